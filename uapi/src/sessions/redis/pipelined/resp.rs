//! Decoding of RESP2 replies into redis-rs [`Value`]s, for [`super::PipelinedConnection`].
//!
//! Why not redis-rs's own decoder: it is built on `combine`'s resumable
//! parsers, and on the session read it cost about 6,100 instructions per
//! one-`HGETALL` reply (callgrind), a fifth of the whole request. A RESP2 reply
//! is five types, each one line plus, for a bulk string, a counted payload;
//! this decoder reads them in one pass over a complete frame and re-reads from
//! the frame's start when more bytes arrive (replies here are small).
//!
//! The result is the same `Value` redis-rs builds, so everything above stays
//! on redis-rs's types: `+OK` is [`Value::Okay`], a simple string must be
//! UTF-8, and an error line (`-ERR ...`) is handed to redis-rs's own parser,
//! which knows the error kinds (`NOSCRIPT`, `CROSSSLOT`, ...). The tests check
//! every RESP2 type, and thousands of generated frames, against redis-rs's
//! decoder. RESP3 types are refused: the
//! connection speaks RESP2.

use redis::{ErrorKind, RedisError, RedisResult, Value};

/// Deepest array nesting accepted (redis-rs allows 100; `EXEC` replies nest 2).
const MAX_DEPTH: usize = 100;

/// One complete reply at the start of `buf`, with the number of bytes it
/// takes; `None` while the frame is incomplete.
pub(super) fn decode(buf: &[u8]) -> RedisResult<Option<(Value, usize)>> {
    let mut pos = 0;
    Ok(value::<true>(buf, &mut pos, 0)?.map(|v| (v, pos)))
}

/// The length of the complete reply at the start of `buf`, found without
/// building it (no allocation); `None` while it is incomplete.
pub(super) fn complete(buf: &[u8]) -> RedisResult<Option<usize>> {
    let mut pos = 0;
    Ok(value::<false>(buf, &mut pos, 0)?.map(|_| pos))
}

/// The value at `*pos`, advancing `*pos` past it; with `BUILD` false, only
/// checked and skipped (the result is then `Nil`).
fn value<const BUILD: bool>(buf: &[u8], pos: &mut usize, depth: usize) -> RedisResult<Option<Value>> {
    let start = *pos;
    let Some(&kind) = buf.get(start) else { return Ok(None) };
    let Some(line) = line(buf, start + 1) else { return Ok(None) };
    let after_line = start + 1 + line.len() + 2;
    let v = match kind {
        b'+' if line == b"OK" => Value::Okay,
        b'+' => match std::str::from_utf8(line) {
            Ok(s) if BUILD => Value::SimpleString(s.to_owned()),
            Ok(_) => Value::Nil,
            Err(_) => return Err(protocol("simple string is not UTF-8")),
        },
        b':' => Value::Int(int(line)?),
        b'$' => {
            let len = int(line)?;
            if len < 0 {
                Value::Nil
            } else {
                let len = usize::try_from(len).map_err(|_| protocol("bulk string too long"))?;
                let end = after_line.checked_add(len).ok_or_else(|| protocol("bulk string too long"))?;
                if buf.len() < end.saturating_add(2) {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(protocol("bulk string not followed by CRLF"));
                }
                *pos = end + 2;
                return Ok(Some(if BUILD { Value::BulkString(buf[after_line..end].to_vec()) } else { Value::Nil }));
            }
        }
        b'*' => {
            let n = int(line)?;
            if n < 0 {
                Value::Nil
            } else {
                if depth >= MAX_DEPTH {
                    return Err(protocol("arrays nested too deep"));
                }
                // Each element takes 3 bytes at least: never pre-allocate more
                // than the bytes at hand could hold.
                let n = usize::try_from(n).map_err(|_| protocol("array too long"))?;
                let mut items = Vec::with_capacity(if BUILD { n.min((buf.len() - after_line) / 3) } else { 0 });
                *pos = after_line;
                for _ in 0..n {
                    match value::<BUILD>(buf, pos, depth + 1)? {
                        Some(item) if BUILD => items.push(item),
                        Some(_) => {}
                        None => return Ok(None),
                    }
                }
                return Ok(Some(if BUILD { Value::Array(items) } else { Value::Nil }));
            }
        }
        b'-' if BUILD => redis::parse_redis_value(&buf[start..after_line])?,
        b'-' => Value::Nil,
        other => {
            return Err(protocol(&format!("unexpected reply type byte {other:#04x} (the connection speaks RESP2)")))
        }
    };
    *pos = after_line;
    Ok(Some(v))
}

/// The bytes from `from` to the next CRLF, if it has arrived.
fn line(buf: &[u8], from: usize) -> Option<&[u8]> {
    let rest = buf.get(from..)?;
    let cr = memchr::memchr(b'\r', rest)?;
    match rest.get(cr + 1) {
        Some(b'\n') => Some(&rest[..cr]),
        // A lone CR inside a line: RESP2 lines never hold one, and the next
        // bytes decide nothing, so this is garbage, reported by the caller's
        // integer parse or taken as text by a simple string (as redis-rs does
        // with `take_until(CRLF)`); find the real CRLF.
        Some(_) => {
            let more = memchr::memmem::find(&rest[cr..], b"\r\n")?;
            Some(&rest[..cr + more])
        }
        None => None,
    }
}

/// A decimal `i64`, as redis-rs reads one (surrounding spaces allowed).
fn int(line: &[u8]) -> RedisResult<i64> {
    // The usual case, a few digits (a length, a count), without the str
    // round trip; 18 digits cannot overflow.
    let (neg, digits) = match line {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, line),
    };
    if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        let n = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        return Ok(if neg { -n } else { n });
    }
    std::str::from_utf8(line).ok().and_then(|s| s.trim().parse().ok()).ok_or_else(|| protocol("expected an integer"))
}

fn protocol(what: &str) -> RedisError {
    RedisError::from((ErrorKind::Parse, "invalid reply from the server", what.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes with both decoders and checks they agree (and that the
    /// allocation-free check finds the same frame).
    fn same(frame: &[u8]) -> Value {
        assert_eq!(complete(frame).expect("checks").expect("complete"), frame.len());
        let ours = decode(frame).expect("ours decodes").expect("complete");
        let theirs = redis::parse_redis_value(frame).expect("redis-rs decodes");
        assert_eq!(ours.0, theirs, "frame {:?}", String::from_utf8_lossy(frame));
        assert_eq!(ours.1, frame.len());
        ours.0
    }

    /// Every RESP2 type decodes exactly as redis-rs decodes it.
    #[test]
    fn agrees_with_redis_rs_on_every_resp2_type() {
        same(b"+OK\r\n");
        same(b"+QUEUED\r\n");
        same(b":0\r\n");
        same(b":-42\r\n");
        same(b":9223372036854775807\r\n");
        same(b"$0\r\n\r\n");
        same(b"$5\r\nhe\r\no\r\n");
        same(b"$-1\r\n");
        same(b"*-1\r\n");
        same(b"*0\r\n");
        same(b"*4\r\n$2\r\n\x01c\r\n$1\r\n1\r\n$7\r\nuser_id\r\n$2\r\n42\r\n");
        same(b"*3\r\n+OK\r\n*2\r\n:1\r\n$-1\r\n:0\r\n");
        same(b"-ERR unknown command\r\n");
        let noscript = same(b"-NOSCRIPT No matching script. Please use EVAL.\r\n");
        assert!(matches!(noscript, Value::ServerError(_)));
        let exec = same(b"*2\r\n-WRONGTYPE Operation against a key\r\n:1\r\n");
        assert!(matches!(&exec, Value::Array(items) if matches!(items[0], Value::ServerError(_))));
    }

    /// Every proper prefix of a frame is incomplete, never an error or a value.
    #[test]
    fn a_cut_frame_is_incomplete() {
        let frame = b"*3\r\n$5\r\nhello\r\n*2\r\n:1\r\n+OK\r\n-ERR x\r\n";
        same(frame);
        for cut in 0..frame.len() {
            assert!(decode(&frame[..cut]).unwrap().is_none(), "cut at {cut}");
            assert!(complete(&frame[..cut]).unwrap().is_none(), "cut at {cut}");
        }
    }

    /// Bytes after the first frame are left for the next call.
    #[test]
    fn reports_the_length_of_the_first_frame() {
        let (v, used) = decode(b":1\r\n:2\r\n").unwrap().unwrap();
        assert_eq!((v, used), (Value::Int(1), 4));
    }

    /// Garbage is a parse error, not a panic or a wrong value.
    #[test]
    fn garbage_is_an_error() {
        for bad in [&b"?\r\n"[..], b":x\r\n", b"$2\r\nabcd\r\n", b"*x\r\n", b"+\xff\r\n", b"%1\r\n"] {
            let err = decode(bad).expect_err("refused");
            assert_eq!(err.kind(), ErrorKind::Parse, "{bad:?}");
        }
    }

    /// A huge announced array allocates by the bytes at hand, and nesting is bounded.
    #[test]
    fn announced_sizes_and_depth_are_bounded() {
        assert!(decode(b"*9223372036854775807\r\n:1\r\n").unwrap().is_none());
        assert!(decode(b"$9223372036854775807\r\n").unwrap().is_none());
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        assert_eq!(decode(&deep).expect_err("too deep").kind(), ErrorKind::Parse);
    }

    /// A RESP2 frame from a seeded generator: nested arrays, every scalar type.
    fn frame(rng: &mut u64, depth: u32, out: &mut Vec<u8>) {
        let mut next = || {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng
        };
        match next() % if depth > 3 { 6 } else { 7 } {
            0 => out.extend_from_slice(b"+OK\r\n"),
            1 => out.extend_from_slice(format!("+s{}\r\n", next() % 100).as_bytes()),
            2 => out.extend_from_slice(format!(":{}\r\n", next() as i64).as_bytes()),
            3 => {
                let body: Vec<u8> = (0..next() % 20).map(|_| (next() % 256) as u8).collect();
                out.extend_from_slice(format!("${}\r\n", body.len()).as_bytes());
                out.extend_from_slice(&body);
                out.extend_from_slice(b"\r\n");
            }
            4 => out.extend_from_slice(b"$-1\r\n"),
            5 => out.extend_from_slice(b"-ERR something\r\n"),
            _ => {
                let n = next() % 5;
                out.extend_from_slice(format!("*{n}\r\n").as_bytes());
                for _ in 0..n {
                    frame(rng, depth + 1, out);
                }
            }
        }
    }

    /// Thousands of generated frames decode as redis-rs decodes them; a
    /// random prefix of each is incomplete; a flipped byte never panics.
    #[test]
    fn generated_frames_agree_and_mangled_ones_never_panic() {
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..3000 {
            let mut buf = Vec::new();
            frame(&mut rng, 0, &mut buf);
            same(&buf);
            let cut = (rng as usize) % buf.len();
            assert!(decode(&buf[..cut]).expect("a prefix is no error").is_none());
            let at = (rng >> 20) as usize % buf.len();
            buf[at] = (rng >> 40) as u8;
            let _ = (decode(&buf), complete(&buf));
        }
    }
}
