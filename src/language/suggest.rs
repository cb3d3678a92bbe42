//! "Did you mean" suggestions for unknown names.

/// The known name closest to `unknown`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a, I>(unknown: &str, known: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (unknown.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(unknown, k), k))
        .filter(|&(d, k)| {
            d <= limit || (k.len() > 3 && (k.contains(unknown) || unknown.contains(k)))
        })
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// A hint for an unknown name: "did you mean `x`?" when one is close, otherwise the known names.
pub fn hint<'a, I>(unknown: &str, what: &str, known: I) -> String
where
    I: IntoIterator<Item = &'a str> + Clone,
{
    if let Some(best) = did_you_mean(unknown, known.clone()) {
        return format!("did you mean `{best}`?");
    }
    let mut names: Vec<&str> = known.into_iter().collect();
    if names.is_empty() {
        return format!("there are no {what}");
    }
    names.sort_unstable();
    let shown: Vec<String> = names.iter().take(12).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 12 {
        format!(" and {} more", names.len() - 12)
    } else {
        String::new()
    };
    format!("the known {what} are {}{more}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["timeout", "needs", "retry"];
        assert_eq!(did_you_mean("timout", known), Some("timeout"));
        assert_eq!(did_you_mean("need", known), Some("needs"));
        assert_eq!(did_you_mean("banana", known), None);
        assert_eq!(
            hint("zz", "keys", known),
            "the known keys are `needs`, `retry`, `timeout`"
        );
    }
}
