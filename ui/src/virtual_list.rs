//! Virtualized lists: which rows of a long list are in the DOM. Rows have a
//! fixed height, so the rows in view follow from the scroll offset alone;
//! a few more on each side keep fast scrolling from showing blanks.

use std::ops::Range;

/// Height of one row (px); the stylesheet gives `.event-row` the same.
pub const ROW_HEIGHT: f64 = 36.0;
/// Rows rendered beyond each edge of the viewport.
const OVERSCAN: usize = 6;

/// The rows to render for a viewport `visible` rows tall scrolled to
/// `scroll_top` px, in a list of `len` rows.
pub fn window_of(scroll_top: f64, visible: usize, len: usize) -> Range<usize> {
    let first = (scroll_top.max(0.0) / ROW_HEIGHT).floor() as usize;
    let start = first.saturating_sub(OVERSCAN).min(len);
    let end = (first + visible + 1 + OVERSCAN).min(len);
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_rows_in_view_and_a_margin() {
        assert_eq!(window_of(0.0, 14, 10_000), 0..21);
        assert_eq!(window_of(ROW_HEIGHT * 5_000.0 + 10.0, 14, 10_000), 4_994..5_021);
        assert_eq!(window_of(ROW_HEIGHT * 9_999.0, 14, 10_000), 9_993..10_000);
    }

    #[test]
    fn short_and_empty_lists() {
        assert_eq!(window_of(0.0, 14, 3), 0..3);
        assert_eq!(window_of(0.0, 14, 0), 0..0);
        // Scrolled past the end of a list that just shrank (a new filter).
        assert_eq!(window_of(ROW_HEIGHT * 500.0, 14, 20), 20..20);
        assert_eq!(window_of(-50.0, 14, 20), 0..20);
    }
}
