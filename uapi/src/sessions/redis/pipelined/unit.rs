//! Commands written as RESP straight into a connection's output buffer: a
//! [`Unit`] with no redis-rs `Cmd` built and nothing packed twice.

use redis::Cmd;

use crate::sessions::redis::wire::{Tally, Unit};

/// A unit written as RESP at the end of a connection's output buffer.
///
/// Unless [`Resp::finish`] finds every command sound, all the unit wrote is
/// taken back, also when it is dropped unfinished (a panic while building
/// leaves no half command in the buffer).
pub(super) struct Resp<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    commands: usize,
    tally: Tally,
    finished: bool,
}

impl<'a> Resp<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        Resp { out, start, commands: 0, tally: Tally::default(), finished: false }
    }

    fn header(&mut self, kind: u8, n: usize) {
        self.out.push(kind);
        self.out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// How many commands were written (each gets one reply), or `None`, with
    /// nothing written, if one was malformed.
    pub(super) fn finish(mut self) -> Option<usize> {
        self.finished = self.tally.sound();
        self.finished.then_some(self.commands)
    }
}

impl Drop for Resp<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.out.truncate(self.start);
        }
    }
}

impl Unit for Resp<'_> {
    fn begin(&mut self, argc: usize) {
        self.tally.begin(argc);
        self.commands += 1;
        self.header(b'*', argc);
    }

    fn arg(&mut self, arg: &[u8]) {
        if !self.tally.arg() {
            return;
        }
        self.header(b'$', arg.len());
        self.out.extend_from_slice(arg);
        self.out.extend_from_slice(b"\r\n");
    }

    fn cmd(&mut self, cmd: Cmd) {
        self.tally.cmd();
        self.commands += 1;
        cmd.write_packed_command(self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::redis::wire::{on_key, Cmds, MALFORMED};

    fn unit(build: impl Fn(&mut dyn Unit)) -> (Vec<u8>, usize, Vec<u8>) {
        let mut out = b"before".to_vec();
        let mut resp = Resp::new(&mut out);
        build(&mut resp);
        let n = resp.finish().expect("a sound unit");
        let mut cmds = Cmds::default();
        build(&mut cmds);
        let mut packed = b"before".to_vec();
        for cmd in &cmds.finish().expect("a sound unit") {
            cmd.write_packed_command(&mut packed);
        }
        (out, n, packed)
    }

    #[test]
    fn resp_is_what_redis_rs_packs_for_the_same_commands() {
        let (out, n, packed) = unit(|u| {
            u.bare("MULTI");
            u.hset(b"k", 2, [("a", "1"), ("\u{1}c", "")].into_iter());
            u.on_key("PEXPIRE", b"k", &[b"1209600000", b"NX"]);
            u.cmd(on_key("HGETALL", b"k", 0));
            u.bare("EXEC");
        });
        assert_eq!(n, 5);
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&packed));
        assert!(
            out.starts_with(b"before*1\r\n$5\r\nMULTI\r\n*6\r\n$4\r\nHSET\r\n"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn a_command_with_the_wrong_number_of_arguments_is_taken_back_whole() {
        for build in MALFORMED {
            let mut out = b"before".to_vec();
            let mut resp = Resp::new(&mut out);
            build(&mut resp);
            assert_eq!(resp.finish(), None);
            assert_eq!(out, b"before", "what came before the unit stays");
            let mut cmds = Cmds::default();
            build(&mut cmds);
            assert!(cmds.finish().is_none(), "the Cmd path refuses it too");
        }
    }

    #[test]
    fn a_unit_dropped_unfinished_takes_back_what_it_wrote() {
        let mut out = b"before".to_vec();
        let mut resp = Resp::new(&mut out);
        (&mut resp as &mut dyn Unit).on_key("GET", b"k", &[]);
        drop(resp);
        assert_eq!(out, b"before");
    }
}
