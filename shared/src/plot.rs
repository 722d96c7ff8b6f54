//! Plots as plain SVG files (no plotting dependency): grouped horizontal bar charts with
//! optional error bars, which is what most result tables want to be when looked at.

use crate::error::Result;
use crate::io::write_atomic;
use std::fmt::Write;
use std::path::Path;

/// One series of a grouped bar chart (e.g. one setup), a value per label.
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    /// Half-widths of error bars (standard errors), if any.
    pub errors: Option<Vec<Option<f64>>>,
}

const COLOURS: [&str; 6] = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"];

/// A horizontal grouped bar chart: one row per label, one bar per series.
pub fn bar_chart(title: &str, x_label: &str, labels: &[String], series: &[Series]) -> String {
    let (left, right, top, row_h, bar_h) = (150.0, 30.0, 50.0, 14.0 * series.len().max(1) as f64 + 10.0, 12.0);
    let width = 720.0;
    let plot_w = width - left - right;
    let height = top + row_h * labels.len() as f64 + 60.0;
    let all = series.iter().flat_map(|s| {
        s.values.iter().enumerate().filter_map(move |(i, v)| {
            v.map(|v| v + s.errors.as_ref().and_then(|e| e[i]).unwrap_or(0.0))
        })
    });
    let max = all.fold(0.0f64, f64::max).max(1e-9) * 1.05;
    let min = series.iter().flat_map(|s| s.values.iter().flatten().copied()).fold(0.0f64, f64::min);
    let x = |v: f64| left + (v - min) / (max - min) * plot_w;
    let mut s = String::new();
    let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{}" y="24" font-size="15" text-anchor="middle">{}</text>"#, width / 2.0, esc(title));
    for (i, label) in labels.iter().enumerate() {
        let y0 = top + row_h * i as f64;
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, left - 8.0, y0 + row_h / 2.0 + 4.0, esc(label));
        for (j, ser) in series.iter().enumerate() {
            let Some(v) = ser.values.get(i).copied().flatten() else { continue };
            let y = y0 + 5.0 + 14.0 * j as f64;
            // Bars grow from zero (or from the axis minimum when every value is positive).
            let zero = x(0.0f64.max(min));
            let (x0, w) = if v >= 0.0 { (zero, x(v) - zero) } else { (x(v), zero - x(v)) };
            let _ = writeln!(s, r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{bar_h}" fill="{}"/>"#, w.max(0.5), COLOURS[j % COLOURS.len()]);
            if let Some(e) = ser.errors.as_ref().and_then(|e| e.get(i).copied().flatten()) {
                let yc = y + bar_h / 2.0;
                let _ = writeln!(s, r#"<line x1="{:.1}" y1="{yc:.1}" x2="{:.1}" y2="{yc:.1}" stroke="black"/>"#, x(v - e), x(v + e));
            }
            let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" font-size="10">{v:.1}</text>"#, x(v.max(0.0)) + 4.0, y + 10.0);
        }
    }
    let axis_y = top + row_h * labels.len() as f64 + 5.0;
    let _ = writeln!(s, r#"<line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="black"/>"#, left + plot_w);
    for k in 0..=4 {
        let v = min + (max - min) * k as f64 / 4.0;
        let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10">{v:.1}</text>"#, x(v), axis_y + 14.0);
    }
    let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, left + plot_w / 2.0, axis_y + 32.0, esc(x_label));
    for (j, ser) in series.iter().enumerate() {
        let lx = left + 160.0 * j as f64;
        let _ = writeln!(s, r#"<rect x="{lx}" y="32" width="10" height="10" fill="{}"/><text x="{}" y="41">{}</text>"#, COLOURS[j % COLOURS.len()], lx + 14.0, esc(&ser.name));
    }
    s.push_str("</svg>\n");
    s
}

/// Write a chart atomically.
pub fn save_svg(path: &Path, svg: &str) -> Result<()> {
    write_atomic(path, svg.as_bytes())
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_bar_per_value_and_escapes_labels() {
        let labels = vec!["SFT".to_string(), "R<DPO>".to_string()];
        let series = vec![
            Series { name: "base".into(), values: vec![Some(10.0), Some(20.0)], errors: Some(vec![Some(1.0), None]) },
            Series { name: "instruct".into(), values: vec![None, Some(5.0)], errors: None },
        ];
        let svg = bar_chart("LC win rate", "percent", &labels, &series);
        assert_eq!(svg.matches("<rect x=").count(), 3 + 2, "three bars and two legend boxes");
        assert!(svg.contains("R&lt;DPO&gt;"));
        assert!(svg.contains("<line x1"), "an error bar");
    }
}
