//! Result rows of the pub/sub figures, how repeated runs of a row make one, and how rows
//! are printed.

/// One row of results.
#[derive(Debug, Clone)]
pub struct Row {
    pub what: String,
    pub transport: &'static str,
    pub size: usize,
    pub pinion: f64,
    pub bare: f64,
    pub unit: &'static str,
    pub note: String,
    /// The ratio of every repetition of the row, in the order they ran; empty for a row
    /// measured once.
    pub runs: Vec<f64>,
}

impl Row {
    /// Pinion's figure over the baseline's; none if either system did not run.
    pub fn ratio(&self) -> Option<f64> {
        (self.pinion > 0.0 && self.bare > 0.0).then(|| self.pinion / self.bare)
    }

    fn key(&self) -> (&str, &str, usize) {
        (&self.what, self.transport, self.size)
    }
}

/// Makes one row of each row's repetitions (`runs[r][i]` is row `i` of repetition `r`):
/// the repetition whose ratio is the median, with every repetition's ratio in `runs`.
///
/// A repetition sets the figure up anew (nodes, children, connections), so the median
/// is the typical setup as well as the typical moment of the machine, and the spread
/// shows what a single run may give. With an even count the upper of the two middle
/// repetitions is taken.
pub fn median_of_runs(runs: Vec<Vec<Row>>) -> anyhow::Result<Vec<Row>> {
    let Some(first) = runs.first() else {
        return Ok(Vec::new());
    };
    let count = first.len();
    anyhow::ensure!(
        runs.iter().all(|r| r.len() == count),
        "repetitions measured different rows"
    );
    let mut merged = Vec::with_capacity(count);
    for i in 0..count {
        let mut same: Vec<Row> = runs.iter().map(|r| r[i].clone()).collect();
        anyhow::ensure!(
            same.iter().all(|r| r.key() == same[0].key()),
            "repetitions measured different rows at row {i}"
        );
        let ratios: Vec<f64> = same.iter().map(|r| r.ratio().unwrap_or(f64::NAN)).collect();
        same.sort_by(|a, b| {
            let (a, b) = (a.ratio().unwrap_or(f64::NAN), b.ratio().unwrap_or(f64::NAN));
            a.total_cmp(&b)
        });
        let mut row = same.swap_remove(same.len() / 2);
        row.runs = ratios;
        merged.push(row);
    }
    Ok(merged)
}

/// Prints the rows as a table, then one JSON line.
pub fn print(rows: &[Row]) {
    print_as(rows, ("pinion", "bare zeromq"), "pubsub");
}

/// Prints the rows with their two systems named, then one JSON line for `bench`.
#[allow(clippy::print_stdout)]
pub fn print_as(rows: &[Row], names: (&str, &str), bench: &str) {
    let repeated = rows.iter().any(|r| r.runs.len() > 1);
    println!(
        "{:<20} {:<4} {:>8} {:>14} {:>14} {:>7}  {}note",
        "figure",
        "via",
        "size",
        names.0,
        names.1,
        "ratio",
        if repeated { "runs; " } else { "" }
    );
    for r in rows {
        println!(
            "{:<20} {:<4} {:>8} {:>10.1} {:<3} {:>10.1} {:<3} {:>7}  {}{}",
            r.what,
            r.transport,
            human(r.size),
            r.pinion,
            r.unit,
            r.bare,
            r.unit,
            r.ratio().map_or("-".to_owned(), |x| format!("{x:.2}")),
            runs_text(r),
            r.note
        );
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"figure\":\"{}\",\"transport\":\"{}\",\"size\":{},\"pinion\":{:.3},\"bare\":{:.3},\"unit\":\"{}\",\"ratio\":{},\"runs\":[{}]}}",
                r.what,
                r.transport,
                r.size,
                r.pinion,
                r.bare,
                r.unit,
                r.ratio().map_or("null".to_owned(), |x| format!("{x:.3}")),
                r.runs
                    .iter()
                    .map(|x| if x.is_finite() { format!("{x:.3}") } else { "null".to_owned() })
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect();
    println!("{{\"bench\":\"{bench}\",\"rows\":[{}]}}", json.join(","));
}

/// "runs 0.91 1.02 0.97; " for a repeated row (the ratio shown is their median).
fn runs_text(r: &Row) -> String {
    if r.runs.len() < 2 {
        return String::new();
    }
    let each: Vec<String> = r.runs.iter().map(|x| format!("{x:.2}")).collect();
    format!("runs {}; ", each.join(" "))
}

fn human(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(what: &str, pinion: f64, bare: f64) -> Row {
        Row {
            what: what.to_owned(),
            transport: "ipc",
            size: 64,
            pinion,
            bare,
            unit: "µs",
            note: format!("p{pinion}"),
            runs: Vec::new(),
        }
    }

    #[test]
    fn the_median_repetition_is_kept_whole_with_every_ratio() {
        let runs = vec![
            vec![row("a", 12.0, 10.0), row("b", 1.0, 1.0)],
            vec![row("a", 30.0, 10.0), row("b", 2.0, 1.0)],
            vec![row("a", 9.0, 10.0), row("b", 3.0, 1.0)],
        ];
        let merged = median_of_runs(runs).expect("same rows");
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].pinion, 12.0);
        assert_eq!(merged[0].note, "p12");
        assert_eq!(merged[0].runs, vec![1.2, 3.0, 0.9]);
        assert_eq!(merged[1].ratio(), Some(2.0));
    }

    #[test]
    fn repetitions_of_different_rows_are_refused() {
        let runs = vec![vec![row("a", 1.0, 1.0)], vec![row("b", 1.0, 1.0)]];
        assert!(median_of_runs(runs).is_err());
        let runs = vec![vec![row("a", 1.0, 1.0)], vec![]];
        assert!(median_of_runs(runs).is_err());
    }

    #[test]
    fn a_single_run_is_its_own_median() {
        let merged = median_of_runs(vec![vec![row("a", 5.0, 4.0)]]).expect("one run");
        assert_eq!(merged[0].ratio(), Some(1.25));
        assert_eq!(runs_text(&merged[0]), "");
    }
}
