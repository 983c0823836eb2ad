//! Plain-text tables, as kubectl prints them: a header row, columns two spaces apart.

/// The rows as aligned columns (the first row is the header).
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `-` for nothing, as kubectl shows an empty cell.
pub fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_end_without_spaces() {
        let rows = vec![
            vec!["NAME".to_string(), "IP".to_string(), "NOTE".to_string()],
            vec!["web".to_string(), "47.96.0.1".to_string(), String::new()],
        ];
        assert_eq!(table(&rows), "NAME  IP         NOTE\nweb   47.96.0.1\n");
        assert_eq!(or_dash(None), "-");
        assert_eq!(or_dash(Some("")), "-");
    }
}
