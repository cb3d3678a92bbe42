//! Colour where it means something: the words of a verdict (`PASSED`, `FAILED`, `ok`,
//! `FAIL`, `met`, `MISSED`, `LEFT BEHIND`) in the terminal's renderings, under `--color` and
//! `NO_COLOR` as the diagnostics are. A rendering takes a [`Paint`] and stays a pure function;
//! with [`Paint::PLAIN`] it writes exactly the text it writes without colour.

/// How words are coloured: not at all, or with ANSI SGR codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// No colour (files, pipes, webhooks, tests).
    pub const PLAIN: Paint = Paint { on: false };

    /// Colour when `on`.
    pub fn new(on: bool) -> Self {
        Self { on }
    }

    fn sgr(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// What went well: green.
    pub fn good(self, text: &str) -> String {
        self.sgr("32", text)
    }

    /// What failed or was missed: bold red.
    pub fn bad(self, text: &str) -> String {
        self.sgr("1;31", text)
    }

    /// What needs a look but did not fail: yellow.
    pub fn warn(self, text: &str) -> String {
        self.sgr("33", text)
    }

    /// A verdict word by whether it is good.
    pub fn verdict(self, good: bool, text: &str) -> String {
        if good {
            self.good(text)
        } else {
            self.bad(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_the_text_and_colour_wraps_it() {
        assert_eq!(Paint::PLAIN.bad("MISSED"), "MISSED");
        assert_eq!(Paint::new(true).good("met"), "\x1b[32mmet\x1b[0m");
        assert_eq!(
            Paint::new(true).verdict(false, "FAIL"),
            "\x1b[1;31mFAIL\x1b[0m"
        );
    }
}
