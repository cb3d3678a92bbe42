//! The real binary in a pseudo-terminal: keys in, the screen out, parsed by vt100 as a
//! terminal would show it. A reader thread turns the terminal's output into events, so tests
//! wait on what the screen shows, never on a clock.

use std::io::{Read, Write};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for the screen to show something before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// A program running in a pseudo-terminal.
pub struct Pty {
    session: expectrl::session::OsSession,
    output: mpsc::Receiver<Vec<u8>>,
    parser: vt100::Parser,
    /// Bytes not yet shown: a frame still being drawn, or a marker's first bytes.
    pending: Vec<u8>,
    /// Whether a frame has begun and not ended.
    in_frame: bool,
    closed: bool,
}

impl Pty {
    /// Starts `command` in a terminal of `cols`×`rows`.
    pub fn spawn(command: Command, cols: u16, rows: u16) -> Self {
        let mut session = expectrl::Session::spawn(command).expect("spawn in a pty");
        session
            .get_process_mut()
            .set_window_size(cols, rows)
            .expect("window size");
        let mut stream = session.get_process().get_pty_stream().expect("pty stream");
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            session,
            output,
            parser: vt100::Parser::new(nonzero(rows), nonzero(cols), 0),
            pending: Vec::new(),
            in_frame: false,
            closed: false,
        }
    }

    /// What the screen shows, line by line, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        let text = self.parser.screen().contents();
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    /// Feeds `bytes` to the screen; whether `ready` held at a frame's end on the way (frames
    /// are synchronized updates, `ESC[?2026h` … `ESC[?2026l`; output outside frames counts as
    /// soon as it is in).
    fn feed(&mut self, bytes: &[u8], ready: &dyn Fn(&str) -> bool) -> bool {
        const BEGIN: &[u8] = b"\x1b[?2026h";
        const END: &[u8] = b"\x1b[?2026l";
        self.pending.extend_from_slice(bytes);
        let mut met = false;
        loop {
            let begin = find(&self.pending, BEGIN);
            let end = find(&self.pending, END);
            match (begin, end) {
                (Some(b), e) if e.is_none_or(|e| b < e) => {
                    let rest = self.pending.split_off(b + BEGIN.len());
                    self.parser.process(&self.pending);
                    self.pending = rest;
                    self.in_frame = true;
                }
                (_, Some(e)) => {
                    let rest = self.pending.split_off(e + END.len());
                    self.parser.process(&self.pending);
                    self.pending = rest;
                    self.in_frame = false;
                    met |= ready(&self.screen());
                }
                (None, None) => break,
                (Some(_), None) => unreachable!("matched above"),
            }
        }
        if !self.in_frame {
            // Keep a possible marker's first bytes for the next chunk.
            let keep = self.pending.len().min(BEGIN.len() - 1);
            let split = self.pending.len() - keep;
            let rest = self.pending.split_off(split);
            self.parser.process(&self.pending);
            self.pending = rest;
            met |= ready(&self.screen());
        }
        met
    }

    /// Waits until the screen satisfies `ready` at the end of a frame; returns it.
    pub fn wait_until(&mut self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        if !self.in_frame && ready(&self.screen()) {
            return self.screen();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && !self.closed,
                "the screen never showed {what}; it shows:\n{}",
                self.screen()
            );
            match self.output.recv_timeout(left) {
                Ok(bytes) => {
                    if self.feed(&bytes, &ready) {
                        // The newest frame must still satisfy it: drain what is already here.
                        while let Ok(more) = self.output.try_recv() {
                            self.feed(&more, &|_| false);
                        }
                        if !self.in_frame && ready(&self.screen()) {
                            return self.screen();
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.closed = true;
                    let rest = std::mem::take(&mut self.pending);
                    self.parser.process(&rest);
                    assert!(
                        ready(&self.screen()),
                        "the program ended; the screen never showed {what}:\n{}",
                        self.screen()
                    );
                    return self.screen();
                }
            }
        }
    }

    /// Waits until the screen shows `text`; returns the screen.
    pub fn wait_for(&mut self, text: &str) -> String {
        self.wait_until(&format!("`{text}`"), |s| s.contains(text))
    }

    /// Types `keys` (raw bytes: `\r` is Enter, `\x1b[C` the right arrow, `\x03` Ctrl-C).
    pub fn keys(&mut self, keys: &str) {
        self.session.write_all(keys.as_bytes()).expect("type");
        self.session.flush().expect("flush");
    }

    /// Resizes the terminal (the program gets SIGWINCH) and the parsed screen with it.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.session
            .get_process_mut()
            .set_window_size(cols, rows)
            .expect("resize");
        self.parser
            .screen_mut()
            .set_size(nonzero(rows), nonzero(cols));
    }

    /// Hangs the terminal up, as the kernel does when its window closes: SIGHUP.
    pub fn hang_up(&mut self) {
        self.session
            .get_process_mut()
            .kill(expectrl::process::unix::Signal::SIGHUP)
            .expect("SIGHUP");
    }

    /// Waits for the program to end (reading what it still writes); its exit code and the
    /// screen it left.
    pub fn exit_code(mut self) -> (i32, String) {
        let code = self.wait_end();
        (code, self.screen())
    }

    /// Waits for the program to end (reading what it still writes); its exit code.
    pub fn wait_end(&mut self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        while !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the program did not end:\n{}",
                self.screen()
            );
            match self.output.recv_timeout(left) {
                Ok(bytes) => {
                    self.feed(&bytes, &|_| false);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => self.closed = true,
            }
        }
        let rest = std::mem::take(&mut self.pending);
        self.parser.process(&rest);
        let status = self.session.get_process().wait().expect("wait");
        match status {
            expectrl::process::unix::WaitStatus::Exited(_, code) => code,
            other => panic!("the program did not exit normally: {other:?}"),
        }
    }

    /// The screen row by row (a row the terminal wrapped onto the next stays a row of its
    /// own), trailing blanks trimmed.
    pub fn rows(&self) -> Vec<String> {
        let screen = self.parser.screen();
        let cols = screen.size().1.get();
        screen
            .rows(0, cols)
            .map(|r| r.trim_end().to_owned())
            .collect()
    }

    /// The rows whose text reaches the last column: a line wider than the screen, which the
    /// terminal wrapped.
    pub fn full_rows(&self) -> Vec<String> {
        let cols = usize::from(self.parser.screen().size().1.get());
        self.rows()
            .into_iter()
            .filter(|r| r.chars().count() >= cols)
            .collect()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("a terminal has at least one row and column")
}
