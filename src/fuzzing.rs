//! The bodies of the fuzz targets in `fuzz/`, one function per target.
//!
//! They live in the library so that `cargo fuzz` (see `fuzz/README.md`) and
//! the plain test replaying the committed corpus (`tests/fuzz_corpus.rs`)
//! run the same code. Each takes arbitrary bytes and panics only when it
//! finds a bug: a parser that panics or hangs, or a property that fails.
//! Not part of the API.

use std::path::{Path, PathBuf};

use crate::config::{Config, Environment};
use crate::folders::{decode_mutf7, encode_mutf7};
use crate::imap::framing::{read_response, BodySink, FrameError};
use crate::import::{self, Context, Source};
use crate::maildir::{base_with_uid, format_name, parse_name};
use crate::model::{Flags, Uid};

/// A target: takes any bytes, panics only on a bug.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/` and `fuzz/corpus/` name them.
pub const TARGETS: [(&str, Target); 6] = [
    ("response_reader", response_reader),
    ("maildir_file_name", maildir_file_name),
    ("modified_utf7", modified_utf7),
    ("config", config),
    ("mbsyncrc", mbsyncrc),
    ("offlineimaprc", offlineimaprc),
];

/// Checks that body literals reach the sink whole and in order.
#[derive(Default)]
struct CheckedSink {
    open: Option<(u64, u64)>,
    lengths: Vec<u64>,
}

impl BodySink for CheckedSink {
    fn begin(&mut self, len: u64) {
        assert!(self.open.is_none(), "a body literal began inside another");
        self.open = Some((len, 0));
    }
    fn chunk(&mut self, data: &[u8]) {
        let (_, got) = self.open.as_mut().expect("a chunk outside a literal");
        *got += data.len() as u64;
    }
    fn end(&mut self) {
        let (len, got) = self.open.take().expect("end outside a literal");
        assert_eq!(len, got, "the sink got a different length than announced");
        self.lengths.push(len);
    }
}

/// The IMAP response reader: framing (lines, literals, body literals to the
/// sink), then the response parser and the NAMESPACE parser on each frame.
pub fn response_reader(data: &[u8]) {
    let mut reader = std::io::BufReader::with_capacity(64, data);
    // Every frame consumes at least one byte, so this ends.
    loop {
        let mut sink = CheckedSink::default();
        match read_response(&mut reader, &mut sink, true) {
            Ok(frame) => {
                assert!(sink.open.is_none(), "a body literal was left open");
                assert_eq!(sink.lengths, frame.body_literals);
                assert!(frame.data.ends_with(b"\r\n"), "a frame must end with CRLF");
                // The same parser the session uses, without its panic guard.
                let _ = crate::imap::parse_sanitised(&frame.data);
                let _ = crate::imap::parse_namespace_frame(&frame);
            }
            Err(FrameError::Eof) => break,
            Err(FrameError::Io(_)) => {
                // The stream ended inside a response.
                break;
            }
        }
    }
}

/// Maildir file names: parsing never panics, and renaming a parsed name
/// for other flags or another UID keeps what it should.
pub fn maildir_file_name(data: &[u8]) {
    // The first byte picks flags and a UID for the rename checks.
    let (control, rest) = data.split_first().map_or((0, data), |(c, r)| (*c, r));
    let name = String::from_utf8_lossy(rest);
    let parsed = parse_name(&name);

    // Spread over all 32 bits so keyword letters are renamed too.
    let flags = Flags::from_bits(u32::from(control).wrapping_mul(0x0101_0101));
    let renamed = parse_name(&format_name(&parsed.base, flags, &parsed.other_info));
    assert_eq!(
        renamed.base, parsed.base,
        "{name:?}: a flag change moved the base"
    );
    assert_eq!(
        renamed.flags, flags,
        "{name:?}: flags did not survive a rename"
    );
    assert_eq!(renamed.uid, parsed.uid, "{name:?}");
    assert_eq!(renamed.size, parsed.size, "{name:?}");

    let uid = Uid(u32::from(control) + 1);
    let with_uid = parse_name(&format_name(
        &base_with_uid(&parsed.base, uid),
        parsed.flags,
        &parsed.other_info,
    ));
    assert_eq!(with_uid.uid, Some(uid), "{name:?}: the UID did not stick");
    assert_eq!(with_uid.flags, parsed.flags, "{name:?}");
    assert_eq!(with_uid.size, parsed.size, "{name:?}");
}

/// Modified UTF-7: any string survives encode then decode, the encoding is
/// printable ASCII, and decoding arbitrary text never panics.
pub fn modified_utf7(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let encoded = encode_mutf7(&text);
    assert!(
        encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)),
        "{text:?} encodes to {encoded:?}"
    );
    match decode_mutf7(&encoded) {
        Ok(back) => assert_eq!(back, text, "round trip of {text:?} via {encoded:?}"),
        Err(e) => panic!("{text:?} encodes to {encoded:?}, which does not decode: {e}"),
    }
    if let Ok(decoded) = decode_mutf7(&text) {
        assert_eq!(
            encode_mutf7(&decoded),
            text,
            "{text:?} decodes but is not canonical"
        );
    }
}

fn environment() -> Environment {
    Environment {
        home: Some(PathBuf::from("/home/fuzz")),
        xdg_config_home: None,
        xdg_state_home: None,
    }
}

/// The config parser: any text is a config or a clean error.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::parse(text, &environment()) {
        let _ = config.select(&[]);
        for account in &config.accounts {
            let _ = account.lock_file();
        }
    }
}

/// An importer: any text is accounts or a clean error, and what it makes of
/// them renders to TOML that parses.
fn importer(source: Source, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let context = Context {
        home: Some(PathBuf::from("/home/fuzz")),
        cwd: PathBuf::from("/work"),
    };
    let parsed = match source {
        Source::Mbsync => import::mbsyncrc::parse(&text, &context),
        Source::OfflineImap => import::offlineimaprc::parse(&text, &context),
    };
    let Ok(imported) = parsed else {
        return;
    };
    let file = Path::new("/home/fuzz/rc");
    let _ = import::diagnostics(&imported, file);
    let rendered = import::render(&imported, source, file);
    if let Err(e) = rendered.parse::<toml::Table>() {
        panic!("the import renders invalid TOML ({e}):\n{rendered}");
    }
    let _ = import::validate(&rendered, &environment());
}

/// The mbsyncrc importer.
pub fn mbsyncrc(data: &[u8]) {
    importer(Source::Mbsync, data);
}

/// The offlineimaprc importer.
pub fn offlineimaprc(data: &[u8]) {
    importer(Source::OfflineImap, data);
}
