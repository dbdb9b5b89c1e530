//! Confluent Schema Registry wire format: `0x00`, 4-byte big-endian schema id, then the body.
//! Protobuf bodies are preceded by the message-index path (zigzag varints, count first; the
//! common path `[0]` is the single byte `0`).
//! See <https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format>.

use super::CodecError;

/// The magic byte that starts every framed message.
pub const MAGIC: u8 = 0;
/// Length of the magic byte plus schema id.
pub const HEADER_LEN: usize = 5;

/// Writes the 5-byte header.
pub fn write_header(out: &mut Vec<u8>, schema_id: u32) {
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Writes the header plus a Protobuf message-index path.
pub fn write_proto_header(out: &mut Vec<u8>, schema_id: u32, indexes: &[i32]) {
    write_header(out, schema_id);
    if indexes == [0] {
        out.push(0);
        return;
    }
    write_zigzag(out, indexes.len() as i64);
    for &i in indexes {
        write_zigzag(out, i64::from(i));
    }
}

fn write_zigzag(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn read_zigzag(bytes: &[u8], at: &mut usize) -> Result<i64, CodecError> {
    let mut z: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *bytes
            .get(*at)
            .ok_or(CodecError::Truncated("message indexes"))?;
        *at += 1;
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
        }
    }
    Err(CodecError::Framing("message index varint too long".into()))
}

/// Splits a framed message into schema id and body.
pub fn split(message: &[u8]) -> Result<(u32, &[u8]), CodecError> {
    match message {
        [MAGIC, a, b, c, d, body @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        [m, ..] if *m != MAGIC => Err(CodecError::Framing(format!(
            "magic byte {m:#04x}, expected 0x00"
        ))),
        _ => Err(CodecError::Framing(format!(
            "{} bytes is shorter than the header",
            message.len()
        ))),
    }
}

/// Splits a framed Protobuf message into schema id, message-index path and body.
pub fn split_proto(message: &[u8]) -> Result<(u32, Vec<i32>, &[u8]), CodecError> {
    let (id, rest) = split(message)?;
    let mut at = 0;
    let count = read_zigzag(rest, &mut at)?;
    let indexes = if count == 0 {
        vec![0]
    } else {
        if !(0..=64).contains(&count) {
            return Err(CodecError::Framing(format!("{count} message indexes")));
        }
        (0..count)
            .map(|_| {
                let i = read_zigzag(rest, &mut at)?;
                i32::try_from(i).map_err(|_| CodecError::Framing(format!("message index {i}")))
            })
            .collect::<Result<_, _>>()?
    };
    Ok((id, indexes, &rest[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let mut out = Vec::new();
        write_header(&mut out, 0x0102_0304);
        assert_eq!(out, [0, 1, 2, 3, 4]);
        out.push(0xaa);
        assert_eq!(split(&out).unwrap(), (0x0102_0304, &[0xaa][..]));
        assert!(split(&[1, 0, 0, 0, 1]).is_err());
        assert!(split(&[0, 0, 0]).is_err());
        assert!(split(&[]).is_err());
    }

    #[test]
    fn proto_indexes() {
        for indexes in [vec![0], vec![1], vec![2, 0, 5], vec![300]] {
            let mut out = Vec::new();
            write_proto_header(&mut out, 7, &indexes);
            out.extend_from_slice(b"body");
            let (id, got, body) = split_proto(&out).unwrap();
            assert_eq!((id, got, body), (7, indexes.clone(), &b"body"[..]));
        }
        // [0] is the single byte 0 (Confluent's optimisation), [1] is count 1 then 1.
        let mut out = Vec::new();
        write_proto_header(&mut out, 1, &[0]);
        assert_eq!(out, [0, 0, 0, 0, 1, 0]);
        out.clear();
        write_proto_header(&mut out, 1, &[1]);
        assert_eq!(out, [0, 0, 0, 0, 1, 2, 2]);
        assert!(split_proto(&[0, 0, 0, 0, 1, 0x80]).is_err());
    }
}
