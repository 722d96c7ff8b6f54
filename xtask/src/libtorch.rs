//! Finding (or installing) libtorch and building the environment that every
//! spawned cargo command needs to compile against it and to run with it.
//!
//! Order of preference:
//! 1. `LIBTORCH` set by the user (a libtorch folder with `include/` and `lib/`);
//! 2. the project's own virtual environment `.venv/` with `torch==2.11.0`;
//! 3. `REPRO_PYTHON`, or `python3` on the PATH, if it already has `torch==2.11.0`;
//! 4. otherwise create `.venv/` and `pip install torch==2.11.0` into it (once).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The PyTorch release that tch 0.24 binds.
pub const TORCH_VERSION: &str = "2.11.0";

/// Everything a spawned cargo needs to find libtorch at build and run time.
#[derive(Debug, Clone)]
pub struct Libtorch {
    /// Folder with `include/` and `lib/` (the `torch` package folder of a wheel).
    pub dir: PathBuf,
    pub cxx11_abi: bool,
    /// The Python interpreter that owns this torch, when there is one (used by benches).
    pub python: Option<PathBuf>,
}

/// `shared::device::PINNED_CPU_MATH` (xtask does not link libtorch, so it keeps its own copy of
/// the two settings).
pub const PINNED_CPU_MATH: [(&str, &str); 2] = [("MKL_CBWR", "AVX2,STRICT"), ("ATEN_CPU_CAPABILITY", "avx2")];

impl Libtorch {
    pub fn lib_dir(&self) -> PathBuf {
        self.dir.join("lib")
    }

    /// Environment variables for cargo and for the binaries it runs.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut ld = self.lib_dir().display().to_string();
        if let Ok(old) = std::env::var("LD_LIBRARY_PATH") {
            if !old.is_empty() {
                ld = format!("{ld}:{old}");
            }
        }
        let mut env = vec![
            ("LIBTORCH".into(), self.dir.display().to_string()),
            ("LIBTORCH_CXX11_ABI".into(), if self.cxx11_abi { "1" } else { "0" }.into()),
            ("LD_LIBRARY_PATH".into(), ld),
        ];
        if let Some(py) = &self.python {
            env.push(("REPRO_PYTHON".into(), py.display().to_string()));
        }
        // libtorch's OpenMP threads spin between parallel regions by default; on a CPU shared with
        // other jobs the spinning threads starve each other (SimPO's mini evaluation ran 6 times
        // slower on the shared 2-core box). Sleeping instead changes no result, only the waiting.
        if std::env::var_os("OMP_WAIT_POLICY").is_none() {
            env.push(("OMP_WAIT_POLICY".into(), "PASSIVE".into()));
        }
        // The pinned CPU math (`shared::device::PINNED_CPU_MATH`), set here too so that every
        // process xtask starts (binaries, tests, benches, PyTorch scripts) has it from its first
        // instruction and no multi-threaded test process has to set it in-process. A value the
        // user set wins.
        for (k, v) in PINNED_CPU_MATH {
            if std::env::var_os(k).is_none() {
                env.push((k.into(), v.into()));
            }
        }
        env
    }
}

/// Locate libtorch, installing PyTorch into `.venv/` on first use.
pub fn ensure(root: &Path) -> Result<Libtorch> {
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let dir = PathBuf::from(dir);
        check_libtorch_dir(&dir)?;
        let abi = std::env::var("LIBTORCH_CXX11_ABI").map(|v| v != "0").unwrap_or(true);
        // Python reference scripts still need an interpreter with torch: REPRO_PYTHON, else .venv.
        let venv_python = root.join(".venv/bin/python");
        let python = std::env::var_os("REPRO_PYTHON").map(PathBuf::from).or_else(|| venv_python.exists().then_some(venv_python));
        return Ok(Libtorch { dir, cxx11_abi: abi, python });
    }
    let venv_python = root.join(".venv/bin/python");
    if venv_python.exists() {
        if let Some(found) = probe_python(&venv_python)? {
            return found.into_result(&venv_python, true);
        }
    }
    let other = std::env::var("REPRO_PYTHON").unwrap_or_else(|_| "python3".into());
    if let Ok(Some(found)) = probe_python(Path::new(&other)) {
        if found.version == TORCH_VERSION {
            return found.into_result(Path::new(&other), false);
        }
        eprintln!(
            "note: {other} has torch {} but this project needs {TORCH_VERSION}; \
             installing {TORCH_VERSION} into .venv/ instead",
            found.version
        );
    }
    install_into_venv(root)?;
    match probe_python(&venv_python)? {
        Some(found) => found.into_result(&venv_python, true),
        None => bail!("installed torch=={TORCH_VERSION} into .venv/ but cannot import it; remove .venv/ and retry"),
    }
}

struct Probe {
    version: String,
    dir: PathBuf,
    cxx11: bool,
}

impl Probe {
    fn into_result(self, python: &Path, ours: bool) -> Result<Libtorch> {
        if self.version != TORCH_VERSION {
            let fix = if ours {
                format!("run `.venv/bin/pip install torch=={TORCH_VERSION}` or delete .venv/ to reinstall")
            } else {
                format!("install torch=={TORCH_VERSION} there, or set LIBTORCH to a libtorch {TORCH_VERSION}")
            };
            bail!(
                "{} has torch {}, but tch 0.24 needs PyTorch {TORCH_VERSION}: {fix}",
                python.display(),
                self.version
            );
        }
        Ok(Libtorch { dir: self.dir, cxx11_abi: self.cxx11, python: Some(python.to_path_buf()) })
    }
}

/// Ask a Python interpreter about its torch; `None` if it has none.
fn probe_python(python: &Path) -> Result<Option<Probe>> {
    let script = "import torch, os\n\
                  print(torch.__version__.split('+')[0])\n\
                  print(os.path.dirname(torch.__file__))\n\
                  print(torch._C._GLIBCXX_USE_CXX11_ABI)";
    let out = match Command::new(python).arg("-c").arg(script).output() {
        Ok(out) => out,
        Err(_) => return Ok(None),
    };
    if !out.status.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 3 {
        return Ok(None);
    }
    Ok(Some(Probe {
        version: lines[0].trim().to_string(),
        dir: PathBuf::from(lines[1].trim()),
        cxx11: lines[2].trim() == "True",
    }))
}

fn check_libtorch_dir(dir: &Path) -> Result<()> {
    if !dir.join("lib").is_dir() || !dir.join("include").is_dir() {
        bail!(
            "LIBTORCH={} has no lib/ and include/ folders; point it at a libtorch {TORCH_VERSION} \
             (or unset it to let the runner install PyTorch into .venv/)",
            dir.display()
        );
    }
    if let Ok(v) = std::fs::read_to_string(dir.join("build-version")) {
        let v = v.trim().split('+').next().unwrap_or("").to_string();
        if v != TORCH_VERSION {
            bail!("LIBTORCH={} is version {v}, but tch 0.24 needs {TORCH_VERSION}", dir.display());
        }
    }
    Ok(())
}

fn install_into_venv(root: &Path) -> Result<()> {
    let venv = root.join(".venv");
    let base = std::env::var("REPRO_PYTHON").unwrap_or_else(|_| "python3".into());
    if !venv.join("bin/python").exists() {
        eprintln!("==> creating {} with {base}", venv.display());
        let ok = Command::new(&base)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .with_context(|| format!("cannot run {base}: install Python 3.9+ or set REPRO_PYTHON"))?;
        if !ok.success() {
            bail!("`{base} -m venv .venv` failed (on Debian: apt-get install python3-venv)");
        }
    }
    eprintln!("==> installing torch=={TORCH_VERSION} into .venv/ (about 4.6 GB, once)");
    let ok = Command::new(venv.join("bin/pip"))
        .args(["install", "--disable-pip-version-check", "--quiet"])
        .arg(format!("torch=={TORCH_VERSION}"))
        .status()
        .context("cannot run .venv/bin/pip")?;
    if !ok.success() {
        bail!("pip install torch=={TORCH_VERSION} failed; see pip's message above");
    }
    Ok(())
}

/// The Python packages the test suite's parity tests run (TRL, PEFT and transformers against the
/// Rust trainer, LoRA and model), pinned; `cargo xtask test` installs them into the runner's Python.
pub const PYTHON_TEST_PACKAGES: &[&str] = &["transformers==5.24.0", "trl==1.16.0", "peft==0.21.2", "accelerate==1.16.0", "datasets==5.2.0"];

/// Install extra Python packages (reference implementations used by benches, fixture scripts and
/// parity tests) into the same environment that provides torch. A pinned `name==version` is
/// installed unless that exact version is there; a bare name unless it imports. torch itself is
/// pinned in the same pip call, so no dependency can move it off 2.11.0.
pub fn pip_install(lt: &Libtorch, packages: &[&str]) -> Result<()> {
    let python = lt.python.as_ref().context(
        "this step needs Python packages but libtorch came from LIBTORCH; set REPRO_PYTHON to a Python with torch",
    )?;
    let installed = installed_versions(python, packages);
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| match p.split_once("==") {
            Some((name, version)) => installed.get(name).map(String::as_str) != Some(version),
            None => {
                let module = p.split(['=', '<', '>']).next().unwrap_or(p).replace('-', "_");
                !Command::new(python)
                    .args(["-c", &format!("import {module}")])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false)
            }
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("==> pip install {}", missing.join(" "));
    let ok = Command::new(python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet"])
        .arg(format!("torch=={TORCH_VERSION}"))
        .args(&missing)
        .status()?;
    if !ok.success() {
        bail!("pip install {} failed", missing.join(" "));
    }
    Ok(())
}

/// TRL 0.11.4, the last release whose `PPOTrainer` has its arithmetic as separate methods
/// (`compute_rewards`, `compute_advantages`, `loss`), with the pins its config module imports.
/// It cannot share an environment with the suite's TRL 1.x, so it goes into a folder of its own
/// (`--target`, no dependencies: torch and transformers come from the main environment) that
/// `shared/fixtures/make_rl_fixtures.py` puts first on `PYTHONPATH` in a child process.
pub const TRL_PPO_PACKAGES: &[&str] = &["trl==0.11.4", "tyro==0.8.14", "docstring-parser==0.16", "shtab==1.7.1"];

/// Install [`TRL_PPO_PACKAGES`] into `dir` unless TRL 0.11.4 is already there.
pub fn pip_install_trl_ppo(lt: &Libtorch, dir: &Path) -> Result<()> {
    if dir.join("trl-0.11.4.dist-info").is_dir() && dir.join("shtab").is_dir() {
        return Ok(());
    }
    let python = lt.python.as_ref().context("the PPO golden fixtures need Python; set REPRO_PYTHON to a Python with torch")?;
    eprintln!("==> pip install --target {} {}", dir.display(), TRL_PPO_PACKAGES.join(" "));
    let ok = Command::new(python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-deps", "--upgrade", "--target"])
        .arg(dir)
        .args(TRL_PPO_PACKAGES)
        .status()?;
    if !ok.success() {
        bail!("pip install --target {} {} failed", dir.display(), TRL_PPO_PACKAGES.join(" "));
    }
    Ok(())
}

/// Installed versions of the pinned (`name==version`) packages, by distribution name.
fn installed_versions(python: &Path, packages: &[&str]) -> std::collections::HashMap<String, String> {
    let names: Vec<&str> = packages.iter().filter_map(|p| p.split_once("==").map(|(n, _)| n)).collect();
    if names.is_empty() {
        return Default::default();
    }
    let script = format!(
        "import importlib.metadata as m\nfor n in {names:?}:\n    try:\n        print(n, m.version(n))\n    except m.PackageNotFoundError:\n        pass"
    );
    let out = Command::new(python).args(["-c", &script]).output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).to_string()).unwrap_or_default();
    parse_versions(&text)
}

fn parse_versions(text: &str) -> std::collections::HashMap<String, String> {
    text.lines().filter_map(|l| l.split_once(' ')).map(|(n, v)| (n.to_string(), v.trim().to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_packages_are_checked_by_version() {
        let v = parse_versions("trl 1.16.0\ntransformers 5.20.0\n");
        assert_eq!(v.get("trl").map(String::as_str), Some("1.16.0"));
        assert_eq!(v.get("transformers").map(String::as_str), Some("5.20.0"));
        assert!(PYTHON_TEST_PACKAGES.iter().chain(TRL_PPO_PACKAGES).all(|p| p.contains("==")), "test packages must be pinned");
    }

    #[test]
    fn wrong_torch_version_names_the_needed_one() {
        let p = Probe { version: "2.10.0".into(), dir: "/x".into(), cxx11: true };
        let err = p.into_result(Path::new("/venv/bin/python"), true).unwrap_err().to_string();
        assert!(err.contains("2.10.0") && err.contains(TORCH_VERSION) && err.contains("pip install"), "{err}");
    }

    #[test]
    fn libtorch_dir_without_lib_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_libtorch_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("lib/") && err.contains(TORCH_VERSION), "{err}");
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        std::fs::create_dir_all(dir.path().join("include")).unwrap();
        std::fs::write(dir.path().join("build-version"), "2.9.1+cpu\n").unwrap();
        let err = check_libtorch_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("2.9.1"), "{err}");
    }

    #[test]
    fn environment_points_cargo_and_the_loader_at_libtorch() {
        let lt = Libtorch { dir: "/opt/torch".into(), cxx11_abi: true, python: None };
        let env: std::collections::HashMap<_, _> = lt.env().into_iter().collect();
        assert_eq!(env["LIBTORCH"], "/opt/torch");
        assert_eq!(env["LIBTORCH_CXX11_ABI"], "1");
        assert!(env["LD_LIBRARY_PATH"].starts_with("/opt/torch/lib"));
        if std::env::var_os("MKL_CBWR").is_none() {
            assert_eq!(env["MKL_CBWR"], "AVX2,STRICT");
        }
        if std::env::var_os("OMP_WAIT_POLICY").is_none() {
            assert_eq!(env["OMP_WAIT_POLICY"], "PASSIVE");
        }
    }
}
