//! A full-screen view with plain ANSI escapes: the alternate screen, the cursor hidden,
//! and each frame written over the last one (no clearing, so no flicker).

use std::io::Write;

/// The terminal while the demo draws on it; [`leave`](Screen::leave) (or drop) restores it.
#[derive(Debug)]
pub(super) struct Screen {
    active: bool,
}

impl Screen {
    /// Switches to the alternate screen and hides the cursor.
    pub(super) fn enter() -> Screen {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
        let _ = out.flush();
        Screen { active: true }
    }

    /// Writes the frame from the top left; every line clears what is left of the previous
    /// frame's line, and the rest of the screen below is cleared.
    pub(super) fn draw(&mut self, lines: &[String]) {
        let mut frame = String::from("\x1b[H");
        for l in lines {
            frame.push_str(l);
            frame.push_str("\x1b[K\r\n");
        }
        frame.push_str("\x1b[J");
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(frame.as_bytes());
        let _ = out.flush();
    }

    /// Back to the normal screen, cursor shown.
    pub(super) fn leave(mut self) {
        self.restore();
    }

    fn restore(&mut self) {
        if self.active {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\x1b[0m\x1b[?25h\x1b[?1049l");
            let _ = out.flush();
            self.active = false;
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.restore();
    }
}
