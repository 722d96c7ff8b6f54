//! Plots for the result pages, drawn with `plotters` as SVG. Three charts cover what the
//! papers' pipelines show:
//!
//! - [`bar_chart`]: horizontal bars, one group per category and one bar per series, each with
//!   its 95% interval as an error bar (a method's win rate per setup);
//! - [`curves`]: one line per series over steps or iterations, the mean, with a shaded band for
//!   its 95% interval over seeds (a metric over training);
//! - [`scatter`]: points per series with an optional least-squares line (LC vs length).
//!
//! Values carry their interval as an [`Estimate`]; [`Estimate::mean_ci95`] makes one from
//! per-seed values. Every function returns the SVG text, the same bytes for the same input
//! (so committed plots only change when the numbers do); [`save_svg`] writes it atomically.
//!
//! SVG only: plotters' bitmap backend needs a font rasteriser (the system's fontconfig and
//! FreeType, or a font file shipped in the repository), while SVG text is drawn by the viewer.

use crate::error::{Error, Result};
use crate::io::write_atomic;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

/// Title and axis descriptions of a chart.
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
}

/// A value with an optional 95% interval `(lo, hi)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub interval: Option<(f64, f64)>,
}

impl Estimate {
    pub fn point(value: f64) -> Self {
        Self { value, interval: None }
    }

    pub fn with_interval(value: f64, lo: f64, hi: f64) -> Self {
        Self { value, interval: Some((lo, hi)) }
    }

    /// `value ± 1.96·se`: the normal 95% interval of an estimate with standard error `se`.
    pub fn normal(value: f64, se: f64) -> Self {
        Self::with_interval(value, value - 1.96 * se, value + 1.96 * se)
    }

    /// The mean of per-seed values with its Student-t 95% interval (`None` for no values; no
    /// interval for one value).
    pub fn mean_ci95(samples: &[f64]) -> Option<Self> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some(Self::point(mean));
        }
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = statrs::distribution::ContinuousCDF::inverse_cdf(&statrs::distribution::StudentsT::new(0.0, 1.0, (n - 1) as f64).ok()?, 0.975);
        let half = t * (var / n as f64).sqrt();
        Some(Self::with_interval(mean, mean - half, mean + half))
    }

    fn ends(&self) -> [f64; 3] {
        let (lo, hi) = self.interval.unwrap_or((self.value, self.value));
        [self.value, lo, hi]
    }
}

/// One series of a bar chart: an estimate (or nothing) per category.
#[derive(Clone, Debug)]
pub struct Bars {
    pub name: String,
    pub values: Vec<Option<Estimate>>,
}

/// One series of a curve chart: `(step, estimate over seeds)`, in step order.
#[derive(Clone, Debug)]
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, Estimate)>,
}

/// One series of a scatter plot.
#[derive(Clone, Debug)]
pub struct Points {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(0x4C, 0x72, 0xB0),
    RGBColor(0xDD, 0x84, 0x52),
    RGBColor(0x55, 0xA8, 0x68),
    RGBColor(0xC4, 0x4E, 0x52),
    RGBColor(0x81, 0x72, 0xB3),
    RGBColor(0x93, 0x78, 0x60),
    RGBColor(0xDA, 0x8B, 0xC3),
    RGBColor(0x8C, 0x8C, 0x8C),
];

/// The colour of series `j` (the palette repeats after eight series).
pub fn colour(j: usize) -> RGBColor {
    PALETTE[j % PALETTE.len()]
}

const FONT: &str = "sans-serif";

/// The title's font size: 18 px, smaller when a long title would not fit the chart's width
/// (a sans-serif character is about 0.55 em wide).
fn caption_size(title: &str, width: u32) -> f64 {
    let chars = title.chars().count().max(1) as f64;
    18.0_f64.min((f64::from(width) - 24.0) / (0.55 * chars)).max(9.0)
}

fn draw_err(title: &str, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("drawing the plot {title:?}: {e}"))
}

fn finite(title: &str, series: &str, values: impl IntoIterator<Item = f64>) -> Result<()> {
    match values.into_iter().find(|v| !v.is_finite()) {
        Some(v) => Err(Error::invalid(format!("plot {title:?}, series {series:?}"), format!("holds the non-finite value {v}; plots take finite numbers"))),
        None => Ok(()),
    }
}

/// An axis range covering `values` with 5% padding each side (`with_zero`: and zero, unpadded
/// on that side, so bars start at the axis); a unit range around a single value.
fn span(values: impl IntoIterator<Item = f64>, with_zero: bool) -> Range<f64> {
    let (mut lo, mut hi) = values.into_iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    if with_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi - lo < 1e-12 {
        return lo - 1.0..hi + 1.0;
    }
    let pad = 0.05 * (hi - lo);
    let lo = if with_zero && lo == 0.0 { 0.0 } else { lo - pad };
    let hi = if with_zero && hi == 0.0 { 0.0 } else { hi + pad };
    lo..hi
}

/// The category axis of a bar chart: `0..n` mapped like a number line, ticks (and labels) only
/// at the category centres `i + 0.5`, so bars can sit at fractional offsets inside a category.
struct CategoryAxis {
    n: usize,
}

impl plotters::coord::ranged1d::Ranged for CategoryAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let n = self.n.max(1) as f64;
        limit.0 + ((limit.1 - limit.0) as f64 * v / n).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            vec![]
        } else {
            (0..self.n).map(|i| i as f64 + 0.5).collect()
        }
    }

    fn range(&self) -> Range<f64> {
        0.0..self.n.max(1) as f64
    }
}

fn legend_box(c: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
}

/// Horizontal grouped bars: a group per category (top to bottom in the given order), a bar
/// per series (in series order), an error bar with caps for each estimate that has an interval,
/// and the value printed at the bar's end. `labels.x` describes the values, `labels.y` the
/// categories; a legend names the series when there is more than one.
pub fn bar_chart(labels: &Labels, categories: &[String], series: &[Bars]) -> Result<String> {
    for s in series {
        if s.values.len() != categories.len() {
            return Err(Error::invalid(format!("plot {:?}, series {:?}", labels.title, s.name), format!("has {} values for {} categories", s.values.len(), categories.len())));
        }
        finite(labels.title, &s.name, s.values.iter().flatten().flat_map(Estimate::ends))?;
    }
    let (n, k) = (categories.len(), series.len().max(1));
    let x_range = span(series.iter().flat_map(|s| s.values.iter().flatten().flat_map(Estimate::ends)), true);
    // Room for the printed values right of the longest bar, and for the legend (lower right).
    let room = if series.len() > 1 { 0.3 } else { 0.1 };
    let x_range = x_range.start..x_range.end + room * (x_range.end - x_range.start);
    let width = 820u32;
    let height = (110 + n * (k * 14 + 14)).max(260) as u32;
    let label_w = 24 + 7 * categories.iter().map(|c| c.chars().count()).max().unwrap_or(0).min(40) as u32;
    // Category i occupies y in [n-1-i, n-i]; its bars fill the middle 80%.
    let name_at = |y: &f64| {
        let i = n as f64 - 0.5 - y;
        let r = i.round();
        if (i - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < n { categories[r as usize].clone() } else { String::new() }
    };
    let bar_h = 0.8 / k as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let e = |e| draw_err(labels.title, e);
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(labels.title, (FONT, caption_size(labels.title, width)))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(label_w)
            .build_cartesian_2d(x_range.clone(), CategoryAxis { n })
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .max_light_lines(2)
            .y_label_formatter(&name_at)
            .x_desc(labels.x)
            .y_desc(labels.y)
            .label_style((FONT, 13))
            .draw()
            .map_err(e)?;
        for (j, s) in series.iter().enumerate() {
            let c = colour(j);
            let y_of = |i: usize| (n - 1 - i) as f64 + 0.1 + (k - 1 - j) as f64 * bar_h;
            let bars = s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v)));
            let drawn = chart
                .draw_series(bars.clone().map(|(i, v)| Rectangle::new([(0.0, y_of(i) + 0.1 * bar_h), (v.value, y_of(i) + 0.9 * bar_h)], c.filled())))
                .map_err(e)?;
            if series.len() > 1 {
                drawn.label(s.name.as_str()).legend(legend_box(c));
            }
            for (i, v) in bars.clone() {
                let yc = y_of(i) + 0.5 * bar_h;
                if let Some((lo, hi)) = v.interval {
                    let cap = 0.25 * bar_h;
                    let lines = [vec![(lo, yc), (hi, yc)], vec![(lo, yc - cap), (lo, yc + cap)], vec![(hi, yc - cap), (hi, yc + cap)]];
                    chart.draw_series(lines.into_iter().map(|l| PathElement::new(l, BLACK.stroke_width(1)))).map_err(e)?;
                }
                let end = v.interval.map_or(v.value, |(lo, hi)| if v.value >= 0.0 { hi } else { lo }).max(v.value.max(0.0));
                // The value, 4 px right of the bar's (or its error bar's) end.
                let style = (FONT, 11).into_font().into_text_style(&root).pos(Pos::new(HPos::Left, VPos::Center));
                let text = Text::new(format!("{:.1}", v.value), (4, 0), style);
                chart.draw_series(std::iter::once(EmptyElement::at((end, yc)) + text)).map_err(e)?;
            }
        }
        if series.len() > 1 {
            chart.configure_series_labels().position(SeriesLabelPosition::LowerRight).background_style(WHITE.mix(0.9)).border_style(BLACK).label_font((FONT, 13)).draw().map_err(e)?;
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// Lines over steps or iterations: per series the mean as a line with markers, and, where the
/// estimates carry intervals, the 95% band shaded in the series' colour.
pub fn curves(labels: &Labels, series: &[Curve]) -> Result<String> {
    for s in series {
        finite(labels.title, &s.name, s.points.iter().flat_map(|(x, v)| std::iter::once(*x).chain(v.ends())))?;
    }
    let x_range = span(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), false);
    let y_range = span(series.iter().flat_map(|s| s.points.iter().flat_map(|p| p.1.ends())), false);
    let mut svg = String::new();
    {
        let width = 820u32;
        let root = SVGBackend::with_string(&mut svg, (width, 480)).into_drawing_area();
        let e = |e| draw_err(labels.title, e);
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(labels.title, (FONT, caption_size(labels.title, width)))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range, y_range)
            .map_err(e)?;
        chart.configure_mesh().max_light_lines(2).x_desc(labels.x).y_desc(labels.y).label_style((FONT, 13)).draw().map_err(e)?;
        for (j, s) in series.iter().enumerate() {
            let c = colour(j);
            let banded: Vec<(f64, (f64, f64))> = s.points.iter().filter_map(|(x, v)| v.interval.map(|i| (*x, i))).collect();
            if banded.len() >= 2 {
                let outline: Vec<(f64, f64)> = banded.iter().map(|(x, (_, hi))| (*x, *hi)).chain(banded.iter().rev().map(|(x, (lo, _))| (*x, *lo))).collect();
                chart.draw_series(std::iter::once(Polygon::new(outline, c.mix(0.2).filled()))).map_err(e)?;
            }
            let line: Vec<(f64, f64)> = s.points.iter().map(|(x, v)| (*x, v.value)).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                .map_err(e)?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
            chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, c.filled()))).map_err(e)?;
        }
        chart.configure_series_labels().position(SeriesLabelPosition::LowerRight).background_style(WHITE.mix(0.9)).border_style(BLACK).label_font((FONT, 13)).draw().map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// Ordinary least squares `y = a + b·x`: `Some((a, b))`, or `None` with fewer than two distinct x.
pub fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if points.len() < 2 || sxx < 1e-300 {
        return None;
    }
    let b = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    Some((my - b * mx, b))
}

/// Points per series; with `fit_line`, the least-squares line through all points (every
/// series together), named in the legend with its slope.
pub fn scatter(labels: &Labels, series: &[Points], fit_line: bool) -> Result<String> {
    for s in series {
        finite(labels.title, &s.name, s.points.iter().flat_map(|&(x, y)| [x, y]))?;
    }
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.points.iter().copied()).collect();
    let x_range = span(all.iter().map(|p| p.0), false);
    let y_range = span(all.iter().map(|p| p.1), false);
    let mut svg = String::new();
    {
        let width = 820u32;
        let root = SVGBackend::with_string(&mut svg, (width, 520)).into_drawing_area();
        let e = |e| draw_err(labels.title, e);
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(labels.title, (FONT, caption_size(labels.title, width)))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range.clone(), y_range)
            .map_err(e)?;
        chart.configure_mesh().max_light_lines(2).x_desc(labels.x).y_desc(labels.y).label_style((FONT, 13)).draw().map_err(e)?;
        for (j, s) in series.iter().enumerate() {
            let c = colour(j);
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(e)?
                .label(s.name.as_str())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        if let Some((a, b)) = fit_line.then(|| least_squares(&all)).flatten() {
            let ends = [x_range.start, x_range.end].map(|x| (x, a + b * x));
            chart
                .draw_series(std::iter::once(PathElement::new(ends.to_vec(), BLACK.stroke_width(1))))
                .map_err(e)?
                .label(format!("least squares: slope {b:.3}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(1)));
        }
        chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).background_style(WHITE.mix(0.9)).border_style(BLACK).label_font((FONT, 13)).draw().map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// Write a chart atomically.
pub fn save_svg(path: &Path, svg: &str) -> Result<()> {
    write_atomic(path, svg.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Labels = Labels { title: "LC win rate", x: "win rate (%)", y: "method" };

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML ({e}):\n{svg}"))
    }

    /// Elements named `tag` filled with series `j`'s colour.
    fn filled(doc: &roxmltree::Document, tag: &str, j: usize) -> usize {
        let c = colour(j);
        let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        doc.descendants().filter(|n| n.has_tag_name(tag) && n.attribute("fill") == Some(hex.as_str())).count()
    }

    fn texts(doc: &roxmltree::Document) -> Vec<String> {
        doc.descendants().filter(|n| n.has_tag_name("text")).map(|n| n.text().unwrap_or("").trim().to_string()).collect()
    }

    #[test]
    fn bars_with_error_bars_one_per_value() {
        let cats = vec!["SFT".to_string(), "R<DPO>".to_string(), "SimPO".to_string()];
        let series = vec![
            Bars { name: "base".into(), values: vec![Some(Estimate::normal(10.0, 1.0)), Some(Estimate::point(20.0)), Some(Estimate::with_interval(-3.0, -5.0, -1.0))] },
            Bars { name: "instruct".into(), values: vec![None, Some(Estimate::normal(5.0, 0.5)), Some(Estimate::point(7.5))] },
        ];
        let svg = bar_chart(&L, &cats, &series).unwrap();
        let doc = parse(&svg);
        // Three bars of the first series, two of the second, plus one legend box each.
        assert_eq!(filled(&doc, "rect", 0), 3 + 1);
        assert_eq!(filled(&doc, "rect", 1), 2 + 1);
        // Three intervals, each a line and two caps, drawn in black.
        let black = doc.descendants().filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some("#000000")).count();
        assert!(black >= 9, "{black} black lines");
        let t = texts(&doc);
        for want in ["LC win rate", "win rate (%)", "method", "SFT", "R<DPO>", "SimPO", "base", "instruct", "-3.0", "7.5"] {
            assert!(t.iter().any(|x| x == want), "no text {want:?} in {t:?}");
        }
        assert!(svg.contains("R&lt;DPO&gt;"));
        // Deterministic: the same input gives the same bytes.
        assert_eq!(svg, bar_chart(&L, &cats, &series).unwrap());
    }

    #[test]
    fn bad_bar_input_is_an_error() {
        let cats = vec!["a".to_string()];
        let e = bar_chart(&L, &cats, &[Bars { name: "s".into(), values: vec![] }]).unwrap_err().to_string();
        assert!(e.contains("0 values for 1 categories"), "{e}");
        let e = bar_chart(&L, &cats, &[Bars { name: "s".into(), values: vec![Some(Estimate::point(f64::NAN))] }]).unwrap_err().to_string();
        assert!(e.contains("non-finite") && e.contains("\"s\""), "{e}");
        // Nothing to draw is still a chart.
        parse(&bar_chart(&L, &[], &[]).unwrap());
    }

    #[test]
    fn curves_have_a_band_and_a_line_per_series() {
        let seeds = [[0.50, 0.52, 0.49], [0.60, 0.63, 0.58], [0.70, 0.69, 0.74]];
        let dpo = Curve { name: "DPO".into(), points: seeds.iter().enumerate().map(|(t, s)| (t as f64, Estimate::mean_ci95(s).unwrap())).collect() };
        let point_only = Curve { name: "SFT".into(), points: vec![(0.0, Estimate::point(0.5)), (2.0, Estimate::point(0.5))] };
        let l = Labels { title: "oracle score over iterations", x: "iteration", y: "oracle score" };
        let svg = curves(&l, &[dpo.clone(), point_only.clone()]).unwrap();
        let doc = parse(&svg);
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("polygon")).count(), 1, "one band (the second series has no intervals)");
        let lines = |j: usize| {
            let c = colour(j);
            let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
            doc.descendants().filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(hex.as_str())).count()
        };
        assert_eq!((lines(0), lines(1)), (2, 2), "a line and a legend stroke per series");
        assert_eq!(filled(&doc, "circle", 0), 3);
        let t = texts(&doc);
        for want in ["oracle score over iterations", "iteration", "oracle score", "DPO", "SFT"] {
            assert!(t.iter().any(|x| x == want), "no text {want:?} in {t:?}");
        }
        assert_eq!(svg, curves(&l, &[dpo, point_only]).unwrap(), "deterministic");
    }

    #[test]
    fn mean_ci95_is_the_t_interval() {
        let e = Estimate::mean_ci95(&[1.0, 2.0, 3.0]).unwrap();
        // mean 2, s = 1, t(0.975, 2) = 4.302653 → half-width 4.302653 / sqrt(3).
        let half = 4.302652729911275 / 3f64.sqrt();
        assert!((e.value - 2.0).abs() < 1e-12);
        let (lo, hi) = e.interval.unwrap();
        assert!((lo - (2.0 - half)).abs() < 1e-9 && (hi - (2.0 + half)).abs() < 1e-9, "{lo} {hi}");
        assert_eq!(Estimate::mean_ci95(&[4.0]), Some(Estimate::point(4.0)));
        assert_eq!(Estimate::mean_ci95(&[]), None);
    }

    #[test]
    fn scatter_with_a_fit_line() {
        let pts = Points { name: "models".into(), points: vec![(1000.0, 20.0), (1500.0, 30.0), (2000.0, 41.0), (2500.0, 49.0)] };
        let l = Labels { title: "LC against length", x: "avg length", y: "LC win rate" };
        let svg = scatter(&l, std::slice::from_ref(&pts), true).unwrap();
        let doc = parse(&svg);
        assert_eq!(filled(&doc, "circle", 0), 4 + 1, "four points and the legend marker");
        let (a, b) = least_squares(&pts.points).unwrap();
        assert!((b - 0.0196).abs() < 1e-12 && (a - 0.7).abs() < 1e-9, "{a} {b}");
        assert!(texts(&doc).iter().any(|t| t == "least squares: slope 0.020"));
        let no_fit = parse_count_polylines(&scatter(&l, &[pts], false).unwrap());
        assert!(no_fit < parse_count_polylines(&svg));
        assert_eq!(least_squares(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }

    /// Writes the test charts to `$PLOT_DUMP_DIR` when set (to look at them), else does nothing.
    #[test]
    fn dump_examples() {
        let Ok(dir) = std::env::var("PLOT_DUMP_DIR") else { return };
        let dir = Path::new(&dir);
        let cats: Vec<String> = ["SFT", "RRHF", "SLiC-HF", "DPO", "IPO", "CPO", "KTO", "ORPO", "R-DPO", "SimPO"].map(String::from).to_vec();
        let series: Vec<Bars> = (0..4)
            .map(|j| Bars { name: format!("setup {j}"), values: (0..cats.len()).map(|i| Some(Estimate::normal(20.0 + 3.0 * i as f64 - 4.0 * j as f64, 1.5))).collect() })
            .collect();
        save_svg(&dir.join("bars.svg"), &bar_chart(&L, &cats, &series).unwrap()).unwrap();
        let c = |name: &str, off: f64| Curve { name: name.into(), points: (0..6).map(|t| (t as f64, Estimate::mean_ci95(&[off + 0.05 * t as f64, off + 0.06 * t as f64 + 0.02, off + 0.04 * t as f64 - 0.01]).unwrap())).collect() };
        save_svg(&dir.join("curves.svg"), &curves(&Labels { title: "oracle over iterations", x: "iteration", y: "oracle" }, &[c("DPO", 0.5), c("SPPO", 0.45)]).unwrap()).unwrap();
        let p = Points { name: "models".into(), points: vec![(1000.0, 20.0), (1500.0, 30.0), (2000.0, 41.0), (2500.0, 49.0)] };
        save_svg(&dir.join("scatter.svg"), &scatter(&Labels { title: "LC against length", x: "avg length", y: "LC" }, &[p], true).unwrap()).unwrap();
    }

    fn parse_count_polylines(svg: &str) -> usize {
        parse(svg).descendants().filter(|n| n.has_tag_name("polyline")).count()
    }
}
