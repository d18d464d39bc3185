//! Plain inline SVG for the HTML run report's charts, written by hand, and the one escaping
//! function for everything the page shows.
//!
//! Why no charting crate: the charts are bars, lines and labels on a time axis, which SVG
//! draws as they are. The kept crate that emits SVG without a browser runtime, `plotters`
//! (0.3, with its `svg_backend`), lays text out through a font backend (`ttf`: font-kit and
//! the system's fonts, or `ab_glyph` with a font file shipped and registered at run time);
//! without one it cannot draw axis labels. That adds a dozen crates to every build on a
//! 2-core machine and to CI, for output a browser would lay out anyway. Here the browser
//! lays out the text, and the page needs nothing from the network.
//!
//! Every element is written with its coordinates rounded to a tenth of a pixel and its
//! text escaped by [`esc`]; styles are CSS classes the page defines, so the charts follow the
//! page's colours.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` safe inside an element or a quoted attribute: `&`, `<`, `>`, `"` and `'` escaped.
pub fn esc(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// One `<svg>` being written.
#[derive(Debug)]
pub struct Svg {
    out: String,
}

/// A number as an SVG coordinate.
fn n(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

impl Svg {
    /// A chart `width` × `height` pixels (it scales down with the page), named `chart` for
    /// the page's structure and `label` for screen readers.
    pub fn new(chart: &str, width: f64, height: f64, label: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg class="chart" data-chart="{}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}">"#,
            esc(chart),
            n(width),
            n(height),
            n(width),
            n(height),
            esc(label)
        );
        Svg { out }
    }

    /// A rectangle of CSS class `class`, with `tip` shown on hover.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, class: &str, tip: Option<&str>) {
        let _ = write!(
            self.out,
            r#"<rect class="{}" x="{}" y="{}" width="{}" height="{}""#,
            esc(class),
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
        self.close("rect", tip);
    }

    pub fn line(
        &mut self,
        (x1, y1): (f64, f64),
        (x2, y2): (f64, f64),
        class: &str,
        tip: Option<&str>,
    ) {
        let _ = write!(
            self.out,
            r#"<line class="{}" x1="{}" y1="{}" x2="{}" y2="{}""#,
            esc(class),
            n(x1),
            n(y1),
            n(x2),
            n(y2)
        );
        self.close("line", tip);
    }

    /// A marker: a small downward triangle whose tip is at (`x`, `y`).
    pub fn marker(&mut self, x: f64, y: f64, class: &str, tip: Option<&str>) {
        let _ = write!(
            self.out,
            r#"<path class="{}" d="M{} {}l-4 -7h8z""#,
            esc(class),
            n(x),
            n(y)
        );
        self.close("path", tip);
    }

    /// A line through `points`.
    pub fn polyline(&mut self, points: &[(f64, f64)], class: &str) {
        let mut list = String::new();
        for (i, (x, y)) in points.iter().enumerate() {
            if i > 0 {
                list.push(' ');
            }
            let _ = write!(list, "{},{}", n(*x), n(*y));
        }
        let _ = write!(
            self.out,
            r#"<polyline class="{}" points="{list}"/>"#,
            esc(class)
        );
    }

    /// `text` at (`x`, `y`); `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, text: &str) {
        let _ = write!(
            self.out,
            r#"<text class="{}" x="{}" y="{}" text-anchor="{}">{}</text>"#,
            esc(class),
            n(x),
            n(y),
            esc(anchor),
            esc(text)
        );
    }

    /// Ends an element, with a `<title>` (the hover text) when there is a tip.
    fn close(&mut self, element: &str, tip: Option<&str>) {
        match tip {
            Some(t) => {
                let _ = write!(self.out, "><title>{}</title></{element}>", esc(t));
            }
            None => self.out.push_str("/>"),
        }
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// A step for axis ticks over `0..span` giving at most about `most` ticks: 1, 2 or 5 times a
/// power of ten.
pub fn tick_step(span: f64, most: usize) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let rough = span / most.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_character_is_escaped() {
        assert_eq!(esc("plain"), "plain");
        assert_eq!(
            esc(r#"a<b & "c" 'd'>"#),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        );
    }

    #[test]
    fn elements_carry_escaped_text_and_tips() {
        let mut svg = Svg::new("t", 100.0, 50.0, "a <chart>");
        svg.rect(1.0, 2.5, 3.0, -1.0, "ok", Some("x & y"));
        svg.text(5.0, 6.0, "start", "label", "<stage>");
        let out = svg.finish();
        assert!(out.starts_with(r#"<svg class="chart" data-chart="t" viewBox="0 0 100 50""#));
        assert!(out.contains(r#"aria-label="a &lt;chart&gt;""#), "{out}");
        assert!(
            out.contains(
                r#"<rect class="ok" x="1" y="2.5" width="3" height="0"><title>x &amp; y</title></rect>"#
            ),
            "{out}"
        );
        assert!(out.contains(">&lt;stage&gt;</text>"), "{out}");
        assert!(out.ends_with("</svg>"));
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(40.0, 8), 5.0);
        assert_eq!(tick_step(7.0, 8), 1.0);
        assert_eq!(tick_step(600.0, 6), 100.0);
        assert_eq!(tick_step(0.0, 6), 1.0);
    }
}
