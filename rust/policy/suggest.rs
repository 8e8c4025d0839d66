//! "Did you mean ...?" for misspelt names in policies.

/// `"; did you mean 'x'?"` for the closest candidate within a small edit distance, or `""`.
pub fn did_you_mean<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map_or(String::new(), |(_, c)| format!("; did you mean '{c}'?"))
}

/// Levenshtein distance over characters (case-insensitive).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name_only_when_close() {
        let names = ["caller.region", "callee.region", "caller.valid"];
        assert_eq!(
            did_you_mean("caller.regoin", names.into_iter()),
            "; did you mean 'caller.region'?"
        );
        assert_eq!(did_you_mean("zzz", names.into_iter()), "");
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "ab"), 2);
    }
}
