//! `cargo xtask book`: the reading-group book, an mdBook generated from the walkthroughs and
//! `results/`.
//!
//! Nothing in the book is written by hand. [`generate`] turns the repository into an mdBook
//! source folder (`target/book/src/`): a front page with the claims ledger, the set-up and the
//! shared crate, the miniature world, then one chapter per implemented paper in a fixed order
//! (the evaluation papers first, then the method families), each followed by a page of its
//! regenerated tables and plots read from `results/<slug>/`. Links are rewritten on the way:
//! a link to another walkthrough or to a results table points to its page in the book, a plot or
//! CSV is copied beside it, and a link to a source file (which has no page) becomes its path in
//! code. [`check_links`] then walks the built HTML and fails on any relative link or image that
//! points nowhere, and [`browser_check`] opens the front page and one paper chapter in headless
//! Chromium and screenshots them.

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::papers::{self, PAPERS};

/// The mdBook release the book is built with (installed into `target/tools/` on first use).
pub const MDBOOK_VERSION: &str = "0.5.4";

/// The book's parts, in reading order: evaluation papers, then the method families.
pub const PARTS: &[(&str, &[&str])] = &[
    ("Evaluation, recomputed from published judgements", &["lc-alpacaeval", "null-model", "wildbench"]),
    ("Preference objectives and labels", &["simpo", "tgdpo", "lcpo", "cdr"]),
    ("Nash learning from general preferences", &["sppo", "dno", "inpo"]),
    ("Self-improvement", &["drift", "temporal-self-rewarding", "evolve"]),
    ("Reward shaping for RLHF", &["par", "autorule"]),
    ("Training data and inference-time compute", &["instruct-skillmix", "adaptive-compute"]),
];

/// What a build produced, for the one-screen summary.
#[derive(Debug, Default)]
pub struct Contents {
    pub chapters: usize,
    pub papers: Vec<String>,
    pub not_yet: Vec<String>,
    pub tables: usize,
    pub plots: usize,
}

/// The book-relative page of a repository file, when it has one.
fn page_of(repo_path: &Path, implemented: &BTreeSet<String>) -> Option<(String, Option<String>)> {
    let s = repo_path.to_string_lossy().replace('\\', "/");
    if s == "README.md" {
        return Some(("index.md".into(), None));
    }
    if s == "shared/README.md" {
        return Some(("shared.md".into(), None));
    }
    if s == "results/claims.md" {
        return Some(("index.md".into(), Some("the-claims-ledger".into())));
    }
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() == 3 && parts[0] == "papers" && parts[2] == "README.md" && implemented.contains(parts[1]) {
        return Some((format!("papers/{}.md", parts[1]), None));
    }
    if parts.len() >= 3 && parts[0] == "results" && s.ends_with(".md") {
        let slug = parts[1];
        let page = if slug == "world" { "world.md".to_string() } else if slug == "nash" { "papers/nash.md".to_string() } else if implemented.contains(slug) { format!("papers/{slug}-results.md") } else { return None };
        return Some((page, Some(anchor_of(&parts[2..].join("/")))));
    }
    None
}

/// The heading id given to an included results file (`oracle-ranked/table4_mini.md` ->
/// `file-oracle-ranked-table4-mini`).
fn anchor_of(file: &str) -> String {
    let stem = file.strip_suffix(".md").unwrap_or(file);
    let mut id = String::from("file-");
    for c in stem.chars() {
        id.push(if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' });
    }
    id
}

/// `to` relative to the folder `from_dir` (both book-relative, `/`-separated).
fn relative(from_dir: &str, to: &str) -> String {
    let from: Vec<&str> = from_dir.split('/').filter(|s| !s.is_empty()).collect();
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; from.len() - common];
    out.extend(&to_parts[common..]);
    out.join("/")
}

/// `base/rel` with `.` and `..` resolved; `None` when it climbs out of the repository.
fn normalise(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out: Vec<String> = vec![];
    for c in base.join(rel).components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop()?;
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out.iter().collect())
}

/// Rewrites one Markdown document's relative links for its place in the book.
struct Rewriter<'a> {
    root: &'a Path,
    implemented: &'a BTreeSet<String>,
    /// Links that point at no file of the repository: reported, the build fails.
    broken: Vec<String>,
}

impl Rewriter<'_> {
    /// `text` is the Markdown of the repository file `from`, placed at book page `page`.
    fn rewrite(&mut self, text: &str, from: &Path, page: &str) -> String {
        let from_dir = from.parent().unwrap_or(Path::new(""));
        let page_dir = page.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let mut out = String::with_capacity(text.len());
        let mut fence: Option<&str> = None;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            if let Some(f) = fence {
                if trimmed.starts_with(f) {
                    fence = None;
                }
                out.push_str(line);
                continue;
            }
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                fence = Some(if trimmed.starts_with("```") { "```" } else { "~~~" });
                out.push_str(line);
                continue;
            }
            out.push_str(&self.rewrite_line(line, from_dir, page_dir, from));
        }
        out
    }

    fn rewrite_line(&mut self, line: &str, from_dir: &Path, page_dir: &str, from: &Path) -> String {
        let chars: Vec<char> = line.chars().collect();
        let mut out = String::with_capacity(line.len());
        let mut i = 0;
        while i < chars.len() {
            // Inline code: copied as is.
            if chars[i] == '`' {
                let ticks = chars[i..].iter().take_while(|&&c| c == '`').count();
                let close = (i + ticks..chars.len()).find(|&j| chars[j..].iter().take_while(|&&c| c == '`').count() == ticks);
                let end = close.map(|j| j + ticks).unwrap_or(chars.len());
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            if chars[i] == '[' {
                if let Some((text_end, url_start, url_end, close)) = link_at(&chars, i) {
                    let image = i > 0 && chars[i - 1] == '!';
                    let label: String = chars[i + 1..text_end].iter().collect();
                    let label = self.rewrite_line(&label, from_dir, page_dir, from);
                    let url: String = chars[url_start..url_end].iter().collect();
                    let rest: String = chars[url_end..close].iter().collect();
                    match self.target(&url, from_dir, page_dir, from) {
                        Target::Keep(u) => out.push_str(&format!("[{label}]({u}{rest})")),
                        Target::Code(path) => {
                            if image {
                                out.pop();
                            }
                            if label.contains(&path) || label.trim_matches('`') == path {
                                out.push_str(&label);
                            } else {
                                out.push_str(&format!("{label} (`{path}`)"));
                            }
                        }
                    }
                    i = close + 1;
                    continue;
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }

    fn target(&mut self, url: &str, from_dir: &Path, page_dir: &str, from: &Path) -> Target {
        if url.is_empty() || url.starts_with('#') || url.contains("://") || url.starts_with("mailto:") {
            return Target::Keep(url.to_string());
        }
        let (path, anchor) = match url.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (url, None),
        };
        let Some(repo) = normalise(from_dir, path) else {
            // Outside the repository (the reference folder beside a checkout): no page, keep the words.
            return Target::Code(url.trim_start_matches("../").to_string());
        };
        if !self.root.join(&repo).exists() {
            self.broken.push(format!("{}: link to {url} (no such file)", from.display()));
            return Target::Code(repo.display().to_string());
        }
        let repo_s = repo.to_string_lossy().replace('\\', "/");
        if let Some((page, file_anchor)) = page_of(&repo, self.implemented) {
            let a = anchor.map(str::to_string).or(file_anchor).map(|a| format!("#{a}")).unwrap_or_default();
            return Target::Keep(format!("{}{a}", relative(page_dir, &page)));
        }
        if repo_s.starts_with("results/") && copied(&repo_s) {
            return Target::Keep(relative(page_dir, &repo_s));
        }
        Target::Code(repo_s.trim_end_matches('/').to_string())
    }
}

enum Target {
    /// A link that works in the book.
    Keep(String),
    /// A repository file without a page in the book: shown as its path.
    Code(String),
}

/// At `chars[i] == '['`: the end of the link text, the URL's span and the closing `)`.
fn link_at(chars: &[char], i: usize) -> Option<(usize, usize, usize, usize)> {
    let mut depth = 0;
    let mut j = i;
    while j < chars.len() {
        match chars[j] {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            '`' => {
                let ticks = chars[j..].iter().take_while(|&&c| c == '`').count();
                j += ticks;
                while j < chars.len() && chars[j..].iter().take_while(|&&c| c == '`').count() != ticks {
                    j += 1;
                }
                j += ticks;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    if j + 1 >= chars.len() || chars[j + 1] != '(' {
        return None;
    }
    let url_start = j + 2;
    let mut k = url_start;
    while k < chars.len() && !chars[k].is_whitespace() && chars[k] != ')' {
        k += 1;
    }
    let close = (k..chars.len()).find(|&c| chars[c] == ')')?;
    Some((j, url_start, k, close))
}

/// The results files copied into the book beside the pages (plots, CSVs, configs).
fn copied(path: &str) -> bool {
    matches!(Path::new(path).extension().and_then(|e| e.to_str()), Some("svg" | "png" | "csv" | "toml"))
}

/// Files under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The text of `## heading` up to the next heading of the same or a higher level (heading included).
fn section(markdown: &str, heading: &str) -> Option<String> {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let mut out = String::new();
    let mut inside = false;
    let mut fence = false;
    for line in markdown.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        }
        if !fence && line.starts_with('#') {
            let l = line.chars().take_while(|&c| c == '#').count();
            if inside && l <= level {
                break;
            }
            if line.trim_end() == heading {
                inside = true;
            }
        }
        if inside {
            out.push_str(line);
        }
    }
    inside.then_some(out)
}

/// Everything of `markdown` except the section under `heading`.
fn without_section(markdown: &str, heading: &str) -> String {
    match section(markdown, heading) {
        Some(s) => markdown.replacen(&s, "", 1),
        None => markdown.to_string(),
    }
}

/// Moves every heading of an included file down by `by` levels (its `#` title becomes a
/// subsection of the page it is included in).
fn demote(markdown: &str, by: usize) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut fence = false;
    for line in markdown.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        }
        if !fence && line.starts_with('#') && line.trim_start_matches('#').starts_with(' ') {
            out.push_str(&"#".repeat(by));
        }
        out.push_str(line);
    }
    out
}

fn read(root: &Path, rel: &str) -> Result<String> {
    std::fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel} for the book"))
}

fn write(src: &Path, page: &str, text: &str) -> Result<()> {
    let p = src.join(page);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
}

fn count_tables(markdown: &str) -> usize {
    let mut n = 0;
    let mut prev_table = false;
    for line in markdown.lines() {
        let is_sep = line.starts_with('|') && line.contains('-') && line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
        if is_sep && prev_table {
            n += 1;
        }
        prev_table = line.starts_with('|');
    }
    n
}

/// The results page of one paper (or of `world` / `nash`): every Markdown table file of
/// `results/<dir>/` included under a heading of its own, every plot shown.
fn results_page(root: &Path, rw: &mut Rewriter, dir: &str, page: &str, title: &str, regenerate: &str, contents: &mut Contents) -> Result<String> {
    let mut md = format!("# {title}\n\nRegenerated by `{regenerate}`; every table below is read from `results/{dir}/` when the book is built.\n\n");
    let base = root.join("results").join(dir);
    let files = files_under(&base);
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "svg" || e == "png")) {
        let rel = format!("results/{dir}/{}", f.display());
        md.push_str(&format!("![{}]({})\n\n", f.display(), relative(page.rsplit_once('/').map(|(d, _)| d).unwrap_or(""), &rel)));
        contents.plots += 1;
    }
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "md")) {
        let name = f.display().to_string();
        let repo = format!("results/{dir}/{name}");
        let text = read(root, &repo)?;
        contents.tables += count_tables(&text);
        md.push_str(&format!("## `{name}` {{#{}}}\n\n", anchor_of(&name)));
        md.push_str(&rw.rewrite(&demote(&text, 2), Path::new(&repo), page));
        md.push_str("\n\n");
    }
    Ok(md)
}

/// Writes the book's source folder `src` (and `book.toml` beside it) from the repository at `root`.
pub fn generate(root: &Path, book_dir: &Path) -> Result<(Contents, Vec<String>)> {
    let src = book_dir.join("src");
    if src.exists() {
        std::fs::remove_dir_all(&src).with_context(|| format!("clearing {}", src.display()))?;
    }
    std::fs::create_dir_all(&src)?;
    let implemented: BTreeSet<String> = PAPERS.iter().filter(|p| root.join("papers").join(p.slug).join("README.md").exists()).map(|p| p.slug.to_string()).collect();
    let mut rw = Rewriter { root, implemented: &implemented, broken: vec![] };
    let mut contents = Contents::default();
    let mut summary = String::from("# Summary\n\n[Preference papers, reproduced](index.md)\n\n");

    // Plots, CSVs and configs of results/ travel with the pages that show or link them.
    for f in files_under(&root.join("results")) {
        let rel = format!("results/{}", f.display());
        if copied(&rel) {
            let to = src.join(&rel);
            std::fs::create_dir_all(to.parent().unwrap())?;
            std::fs::copy(root.join(&rel), &to).with_context(|| format!("copying {rel}"))?;
        }
    }

    // Front page: what the project is, then every claim with its verdict, linked to its chapter.
    let readme = read(root, "README.md")?;
    let intro: String = readme.split_inclusive('\n').take_while(|l| !l.starts_with("## ")).collect();
    let mut front = rw.rewrite(&intro, Path::new("README.md"), "index.md");
    front.push_str("\n## How to read this book\n\nEach paper has a walkthrough (the idea, its equations beside the code, the miniature, paper scale, what did and did not transfer) followed by a page of its regenerated tables and plots, read from `results/` when the book is built. Rebuild it with `cargo xtask book`.\n\n");
    // At a glance: verdicts per paper (from the ledger's sources), each row linked to its chapter.
    let collected = stats::ledger::collect(&root.join("results")).context("reading results/*/claims.csv for the book's front page")?;
    let mut glance = String::from("## The verdicts at a glance\n\n| paper | claims | held | contradicted | inconclusive | reproduced | not reproduced |\n|---|---|---|---|---|---|---|\n");
    for src in &collected.sources {
        let slug = src.folder.split('/').next().unwrap_or(&src.folder);
        let count = |v: stats::Verdict| src.claims.iter().filter(|c| c.verdict == v).count();
        let name = if implemented.contains(slug) { format!("[`{}`](papers/{slug}.md)", src.folder) } else { format!("`{}`", src.folder) };
        glance.push_str(&format!("| {name} | {} | {} | {} | {} | {} | {} |\n", src.claims.len(), count(stats::Verdict::Held), count(stats::Verdict::Contradicted), count(stats::Verdict::Inconclusive), count(stats::Verdict::Reproduced), count(stats::Verdict::NotReproduced)));
    }
    glance.push_str("\n*Held*: the 95% interval over prompts and seeds excludes zero in the paper's direction; *contradicted*: it excludes zero the other way; *inconclusive*: neither. *Reproduced*: a number recomputed from published data matches the paper's. Every claim with its interval follows.\n\n");
    contents.tables += 1;
    front.push_str(&glance);
    let ledger = read(root, "results/claims.md")?;
    let mut ledger_md = String::from("## The claims ledger {#the-claims-ledger}\n\n");
    let ledger_body = rw.rewrite(&demote(ledger.split_once('\n').map(|(_, rest)| rest).unwrap_or(""), 1), Path::new("results/claims.md"), "index.md");
    for line in ledger_body.lines() {
        if let Some(slug) = line.strip_prefix("### `").and_then(|s| s.strip_suffix('`')) {
            let title = papers::find(slug).map(|p| p.title).unwrap_or(slug);
            let page = if implemented.contains(slug) { format!("papers/{slug}.md") } else if slug == "nash" { "papers/nash.md".into() } else { String::new() };
            ledger_md.push_str(&format!("### `{slug}`: {title}\n"));
            if !page.is_empty() {
                ledger_md.push_str(&format!("\n[The walkthrough]({page})\n"));
            }
        } else {
            ledger_md.push_str(line);
            ledger_md.push('\n');
        }
    }
    contents.tables += count_tables(&ledger_md);
    front.push_str(&ledger_md);
    write(&src, "index.md", &front)?;

    // How to run it, the shared crate, the miniature world.
    summary.push_str("# Running it\n\n");
    let mut running = String::from("# Set-up, the runner and the tests\n\n");
    for h in ["## Set-up", "## The runner", "## Testing", "## Layout", "## Conventions"] {
        if let Some(s) = section(&readme, h) {
            running.push_str(&demote(&s, 0));
            running.push('\n');
        }
    }
    write(&src, "running.md", &rw.rewrite(&running, Path::new("README.md"), "running.md"))?;
    summary.push_str("- [Set-up, the runner and the tests](running.md)\n");
    let shared = read(root, "shared/README.md")?;
    write(&src, "shared.md", &rw.rewrite(&without_section(&shared, "## The miniature world (`src/world/`)"), Path::new("shared/README.md"), "shared.md"))?;
    summary.push_str("- [The shared crate](shared.md)\n");
    let world_text = section(&shared, "## The miniature world (`src/world/`)").context("shared/README.md has no section \"## The miniature world (`src/world/`)\"")?;
    let mut world = rw.rewrite(&world_text.replacen("## ", "# ", 1), Path::new("shared/README.md"), "world.md");
    world.push_str("\n## The world's own tables\n\n");
    world.push_str(&results_page(root, &mut rw, "world", "world.md", "", "cargo xtask world", &mut contents)?.replacen("# \n\n", "", 1));
    write(&src, "world.md", &world)?;
    summary.push_str("- [The miniature world](world.md)\n");
    contents.chapters = 4;

    // One part per family, one chapter per implemented paper, its results page under it.
    for (part, slugs) in PARTS {
        let here: Vec<&str> = slugs.iter().copied().filter(|s| implemented.contains(*s)).collect();
        contents.not_yet.extend(slugs.iter().filter(|s| !implemented.contains(**s)).map(|s| s.to_string()));
        if here.is_empty() {
            continue;
        }
        summary.push_str(&format!("\n# {part}\n\n"));
        for slug in here {
            let paper = papers::find(slug).context("a part names an unknown paper")?;
            let repo = format!("papers/{slug}/README.md");
            let page = format!("papers/{slug}.md");
            let mut chapter = rw.rewrite(&read(root, &repo)?, Path::new(&repo), &page);
            if root.join("results").join(slug).is_dir() {
                // Under the chapter's title: where its regenerated tables are.
                let at = chapter.find('\n').map(|i| i + 1).unwrap_or(0);
                chapter.insert_str(at, &format!("\n> The regenerated tables and plots: [the next page]({slug}-results.md). The claims with their verdicts: [the ledger](../index.md#the-claims-ledger).\n"));
            }
            write(&src, &page, &chapter)?;
            summary.push_str(&format!("- [{}]({page})\n", short_title(paper.title)));
            contents.chapters += 1;
            contents.papers.push(slug.to_string());
            if root.join("results").join(slug).is_dir() {
                let rpage = format!("papers/{slug}-results.md");
                let regenerate = if paper.published_data { format!("cargo xtask reproduce {slug}") } else { format!("cargo xtask reproduce {slug} --seeds 3") };
                let md = results_page(root, &mut rw, slug, &rpage, &format!("{}: the regenerated tables", short_title(paper.title)), &regenerate, &mut contents)?;
                write(&src, &rpage, &md)?;
                summary.push_str(&format!("  - [Tables and plots]({rpage})\n"));
                contents.chapters += 1;
            }
        }
        if *part == PARTS[2].0 && root.join("results/nash").is_dir() {
            let mut md = section(&readme, "### The Nash family side by side").map(|s| rw.rewrite(&s.replacen("### ", "# ", 1), Path::new("README.md"), "papers/nash.md")).unwrap_or_else(|| "# The Nash family side by side\n\n".into());
            md.push_str(&results_page(root, &mut rw, "nash", "papers/nash.md", "", "cargo xtask compare nash", &mut contents)?.replacen("# \n\n", "", 1));
            write(&src, "papers/nash.md", &md)?;
            summary.push_str("- [SPPO, DNO and INPO side by side](papers/nash.md)\n");
            contents.chapters += 1;
        }
    }
    if !contents.not_yet.is_empty() {
        summary.push_str("\n---\n\n[Not yet reproduced](not-yet.md)\n");
        let mut md = String::from("# Not yet reproduced\n\nThese papers have a spec but no walkthrough yet:\n\n");
        for slug in &contents.not_yet {
            md.push_str(&format!("- `{slug}`: {}\n", papers::find(slug).map(|p| p.title).unwrap_or("")));
        }
        write(&src, "not-yet.md", &md)?;
        contents.chapters += 1;
    }
    write(&src, "SUMMARY.md", &summary)?;
    std::fs::write(
        book_dir.join("book.toml"),
        "[book]\ntitle = \"Preference papers, reproduced\"\nlanguage = \"en\"\nsrc = \"src\"\n\n[build]\nbuild-dir = \"html\"\ncreate-missing = false\n\n[output.html]\nno-section-label = true\n\n[output.html.search]\nenable = true\n",
    )?;
    Ok((contents, rw.broken))
}

/// "SimPO: Simple Preference ..." -> "SimPO: Simple Preference ..." (kept), long titles cut at the colon.
fn short_title(title: &str) -> String {
    match title.split_once(':') {
        Some((head, tail)) if head.len() <= 24 => format!("{head}:{tail}"),
        _ => title.to_string(),
    }
}

/// The mdbook binary: `$REPRO_MDBOOK`, else `target/tools/bin/mdbook` (installed there with
/// `cargo install` on first use).
pub fn ensure_mdbook(root: &Path, install: bool) -> Result<PathBuf> {
    if let Ok(p) = std::env::var("REPRO_MDBOOK") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("REPRO_MDBOOK={} is not a file; unset it to use target/tools/bin/mdbook", p.display());
        }
        return Ok(p);
    }
    let tools = root.join("target/tools");
    let bin = tools.join("bin/mdbook");
    let version_ok = Command::new(&bin).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).contains(MDBOOK_VERSION)).unwrap_or(false);
    if version_ok {
        return Ok(bin);
    }
    if !install {
        bail!("mdbook {MDBOOK_VERSION} is not installed in {}: run `cargo xtask book` once (it installs it), or set REPRO_MDBOOK", tools.display());
    }
    println!("==> installing mdbook {MDBOOK_VERSION} into target/tools/ (once; a few minutes)");
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["install", "mdbook", "--version", MDBOOK_VERSION, "--locked", "--no-default-features", "--features", "search", "--root"])
        .arg(&tools)
        .status()
        .context("running cargo install mdbook")?;
    if !st.success() {
        bail!("cargo install mdbook {MDBOOK_VERSION} failed (see above); it needs crates.io");
    }
    Ok(bin)
}

/// Every relative `href`/`src` of the built HTML must name a file of the book, and an anchor on
/// another page an id of that page. Returns the broken ones.
pub fn check_links(html_dir: &Path) -> Result<Vec<String>> {
    let pages: Vec<PathBuf> = files_under(html_dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "html")).collect();
    let mut ids: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for p in &pages {
        let text = std::fs::read_to_string(html_dir.join(p))?;
        ids.insert(p.clone(), attribute_values(&text, "id").into_iter().collect());
    }
    let mut broken = vec![];
    for p in &pages {
        // mdBook's own pages (404, print) link with absolute or script-made URLs; the content pages are what a reader follows.
        if p.to_string_lossy() == "404.html" {
            continue;
        }
        let text = std::fs::read_to_string(html_dir.join(p))?;
        let dir = p.parent().unwrap_or(Path::new(""));
        for attr in ["href", "src"] {
            for url in attribute_values(&text, attr) {
                if url.is_empty() || url.contains("://") || url.starts_with("mailto:") || url.starts_with("javascript:") || url.starts_with("data:") {
                    continue;
                }
                let (path, anchor) = match url.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (url.as_str(), None),
                };
                let path = path.split('?').next().unwrap_or("");
                let target = if path.is_empty() { Some(p.clone()) } else { normalise(dir, path) };
                let Some(target) = target else {
                    broken.push(format!("{}: {url} (outside the book)", p.display()));
                    continue;
                };
                if !html_dir.join(&target).exists() {
                    broken.push(format!("{}: {url} (no such file)", p.display()));
                    continue;
                }
                if let (Some(a), Some(known)) = (anchor, ids.get(&target)) {
                    if !a.is_empty() && !path.is_empty() && !known.contains(a) {
                        broken.push(format!("{}: {url} (no id {a:?} on {})", p.display(), target.display()));
                    }
                }
            }
        }
    }
    Ok(broken)
}

/// The values of `name="..."` attributes in an HTML text (enough for mdBook's output).
fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let pat = format!(" {name}=\"");
    let mut out = vec![];
    let mut rest = html;
    while let Some(i) = rest.find(&pat) {
        rest = &rest[i + pat.len()..];
        if let Some(j) = rest.find('"') {
            out.push(rest[..j].replace("&amp;", "&"));
            rest = &rest[j..];
        }
    }
    out
}

/// Builds the book into `book_dir/html`; prints a one-screen summary. Fails on a broken link.
pub fn build(root: &Path, book_dir: &Path, mdbook: &Path) -> Result<Contents> {
    let started = Instant::now();
    let (contents, broken_sources) = generate(root, book_dir)?;
    let html = book_dir.join("html");
    let out = Command::new(mdbook).arg("build").arg(book_dir).output().with_context(|| format!("running {}", mdbook.display()))?;
    if !out.status.success() {
        bail!("mdbook build failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    let mut broken = broken_sources;
    broken.extend(check_links(&html)?);
    println!("== the book: {}", html.join("index.html").display());
    println!("  {} chapters ({} papers: {}), {} tables, {} plots; built in {:.1} s", contents.chapters, contents.papers.len(), contents.papers.join(", "), contents.tables, contents.plots, started.elapsed().as_secs_f64());
    if !contents.not_yet.is_empty() {
        println!("  not yet reproduced (listed, no chapter): {}", contents.not_yet.join(", "));
    }
    if !broken.is_empty() {
        for b in &broken {
            println!("  broken link: {b}");
        }
        bail!("{} broken link(s) in the book (listed above)", broken.len());
    }
    println!("  broken links: 0");
    Ok(contents)
}

/// Headless Chromium: `chromium`, `chromium-browser` or `google-chrome` on PATH, or `$REPRO_CHROMIUM`.
pub fn find_chromium() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("REPRO_CHROMIUM") {
        return Ok(PathBuf::from(p));
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("which").arg(name).output() {
            if o.status.success() {
                return Ok(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
            }
        }
    }
    bail!("no headless browser found: install Chromium (Debian: `apt-get install chromium`) or set REPRO_CHROMIUM")
}

/// Opens the front page and one paper chapter in headless Chromium: screenshots them into
/// `book_dir/screenshots/`, and fails unless the rendered page holds its tables and every image
/// on it loaded (checked by a probe page that reads the chapter's DOM after load).
pub fn browser_check(book_dir: &Path, chapter: &str) -> Result<Vec<PathBuf>> {
    let chrome = find_chromium()?;
    let html = book_dir.join("html").canonicalize().context("the book is not built")?;
    let shots = book_dir.join("screenshots");
    std::fs::create_dir_all(&shots)?;
    let profile = book_dir.join("chromium-profile");
    let base_args = |extra: &[String]| -> Command {
        let mut c = Command::new(&chrome);
        c.args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--allow-file-access-from-files", "--virtual-time-budget=8000"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra);
        c
    };
    let mut out = vec![];
    for (name, page) in [("front", "index.html".to_string()), ("chapter", format!("papers/{chapter}-results.html"))] {
        let url = format!("file://{}", html.join(&page).display());
        let png = shots.join(format!("{name}.png"));
        let o = base_args(&["--window-size=1280,1600".into(), format!("--screenshot={}", png.display()), url.clone()]).output().with_context(|| format!("running {}", chrome.display()))?;
        if !png.is_file() {
            bail!("Chromium did not screenshot {page}:\n{}", String::from_utf8_lossy(&o.stderr));
        }
        // The rendered DOM, after scripts ran: the probe writes what it found into the page title.
        let probe = book_dir.join(format!("probe-{name}.html"));
        std::fs::write(&probe, probe_page(&url))?;
        let o = base_args(&["--dump-dom".into(), format!("file://{}", probe.canonicalize()?.display())]).output()?;
        let dom = String::from_utf8_lossy(&o.stdout);
        let Some(report) = dom.split("<pre id=\"report\">").nth(1).and_then(|s| s.split("</pre>").next()) else {
            bail!("the probe of {page} reported nothing (Chromium stderr: {})", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or(""));
        };
        let fields: BTreeMap<&str, &str> = report.split_whitespace().filter_map(|kv| kv.split_once('=')).collect();
        let get = |k: &str| fields.get(k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        println!("  browser: {page}: {} tables, {} images ({} failed to load), screenshot {}", get("tables"), get("images"), get("broken"), png.display());
        if get("tables") == 0 {
            bail!("{page} rendered without a table in headless Chromium (probe: {report})");
        }
        if get("broken") > 0 || fields.get("error").is_some() {
            bail!("{page}: {} image(s) did not load in headless Chromium (probe: {report})", get("broken"));
        }
        if name == "chapter" && get("images") == 0 {
            bail!("{page} shows no plot in headless Chromium (probe: {report})");
        }
        out.push(png);
    }
    Ok(out)
}

/// A page that loads `url` in a frame and, once it has loaded, counts its tables and images and
/// the images that failed to load.
fn probe_page(url: &str) -> String {
    format!(
        r#"<!doctype html><html><body><pre id="report">pending</pre>
<iframe id="f" src="{url}" width="1280" height="800"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {{
  var r = document.getElementById('report');
  try {{
    var d = this.contentDocument;
    var imgs = Array.prototype.slice.call(d.querySelectorAll('main img'));
    var broken = imgs.filter(function (i) {{ return !(i.complete && i.naturalWidth > 0); }}).length;
    r.textContent = 'tables=' + d.querySelectorAll('main table').length + ' images=' + imgs.length + ' broken=' + broken;
  }} catch (e) {{ r.textContent = 'error=' + String(e).replace(/\s+/g, '_'); }}
}});
</script></body></html>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewriter_fixture() -> (tempfile::TempDir, BTreeSet<String>) {
        let d = tempfile::tempdir().unwrap();
        for f in ["README.md", "papers/simpo/README.md", "papers/simpo/src/loss.rs", "results/simpo/table4_mini.md", "results/simpo/lc_winrate.svg"] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        (d, ["simpo".to_string()].into_iter().collect())
    }

    #[test]
    fn every_paper_has_exactly_one_part() {
        for p in PAPERS {
            let n = PARTS.iter().filter(|(_, slugs)| slugs.contains(&p.slug)).count();
            assert_eq!(n, 1, "{} is in {n} parts of the book", p.slug);
        }
        let listed: usize = PARTS.iter().map(|(_, s)| s.len()).sum();
        assert_eq!(listed, PAPERS.len(), "a part names a slug that is not a paper");
    }

    #[test]
    fn links_point_to_book_pages_copied_files_or_become_paths() {
        let (d, implemented) = rewriter_fixture();
        let mut rw = Rewriter { root: d.path(), implemented: &implemented, broken: vec![] };
        let text = "See [the table](../../results/simpo/table4_mini.md), ![plot](../../results/simpo/lc_winrate.svg), [loss](src/loss.rs), [`src/loss.rs`](src/loss.rs#L3), [top](../../README.md#set-up), [web](https://example.org) and [spec](../../../shared/papers/simpo.md).\n```\n[not a link](nowhere.md)\n```\n`[code](nowhere.md)`\n";
        let out = rw.rewrite(text, Path::new("papers/simpo/README.md"), "papers/simpo.md");
        assert!(out.contains("[the table](simpo-results.md#file-table4-mini)"), "{out}");
        assert!(out.contains("![plot](../results/simpo/lc_winrate.svg)"), "{out}");
        assert!(out.contains("loss (`papers/simpo/src/loss.rs`)"), "{out}");
        assert!(out.contains("`src/loss.rs` (`papers/simpo/src/loss.rs`)"), "{out}");
        assert!(out.contains("[top](../index.md#set-up)"), "{out}");
        assert!(out.contains("[web](https://example.org)"), "{out}");
        assert!(out.contains("spec (`shared/papers/simpo.md`)"), "{out}");
        assert!(out.contains("[not a link](nowhere.md)") && out.contains("`[code](nowhere.md)`"), "code must be left alone: {out}");
        assert!(rw.broken.is_empty(), "{:?}", rw.broken);
    }

    #[test]
    fn a_link_to_a_missing_file_is_reported() {
        let (d, implemented) = rewriter_fixture();
        let mut rw = Rewriter { root: d.path(), implemented: &implemented, broken: vec![] };
        rw.rewrite("[gone](src/gone.rs)\n", Path::new("papers/simpo/README.md"), "papers/simpo.md");
        assert_eq!(rw.broken.len(), 1);
        assert!(rw.broken[0].contains("src/gone.rs"));
    }

    #[test]
    fn relative_paths_and_sections() {
        assert_eq!(relative("papers", "results/simpo/a.svg"), "../results/simpo/a.svg");
        assert_eq!(relative("", "papers/simpo.md"), "papers/simpo.md");
        assert_eq!(relative("papers", "papers/simpo-results.md"), "simpo-results.md");
        let md = "# T\n## A\na\n### A1\nx\n## B\nb\n";
        assert_eq!(section(md, "## A").unwrap(), "## A\na\n### A1\nx\n");
        assert_eq!(without_section(md, "## A"), "# T\n## B\nb\n");
        assert_eq!(demote("# T\n```\n# not\n```\n", 1), "## T\n```\n# not\n```\n");
        assert_eq!(count_tables("| a | b |\n|---|---|\n| 1 | 2 |\n\n|x|\n|:-:|\n"), 2);
    }

    #[test]
    fn the_html_link_check_finds_missing_files_and_anchors() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("papers")).unwrap();
        std::fs::write(d.path().join("index.html"), r#"<a href="papers/a.html#x">ok</a><a href="papers/a.html#nope">bad anchor</a><img src="missing.svg"><a href="https://x.org">web</a>"#).unwrap();
        std::fs::write(d.path().join("papers/a.html"), r##"<h2 id="x">x</h2><a href="../index.html">up</a><a href="#local">local</a>"##).unwrap();
        let broken = check_links(d.path()).unwrap();
        assert_eq!(broken.len(), 2, "{broken:?}");
        assert!(broken.iter().any(|b| b.contains("nope")) && broken.iter().any(|b| b.contains("missing.svg")));
    }
}
