//! Reading a recording back: events, a readable timeline, terminal output and asciinema v2.
//!
//! Replay does not verify; run [`verify`](crate::verify) first to know whether to trust what
//! is shown (`guard-gateway replay` does both).

use std::io::{BufRead, BufReader, Read, Write};

use serde::Serialize;

use crate::chain::{MAX_LINE_BYTES, SEAL_TYPE};
use crate::event::{Event, Input, Output, SessionStart};
use crate::verify::{LineRead, read_line};

/// One event read back, with its envelope.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordedEvent {
    /// Sequence number.
    pub seq: u64,
    /// Offset from the session start, microseconds.
    pub t_us: u64,
    /// The event.
    pub event: Event,
}

/// A line could not be read back as an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Reading or writing failed.
    #[error("line {line}: io failed")]
    Io {
        /// The line being read (0 when writing).
        line: u64,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The line is not an event of this format (or is longer than the line limit).
    #[error("line {line}: not a recording event: {reason}")]
    Malformed {
        /// The line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Reads events one at a time; stops at the seal or the end of input. Memory stays bounded
/// by the longest line.
///
/// # Examples
/// ```
/// let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/example.jsonl"))?;
/// let events: Vec<_> = guard_record::read_events(file).collect::<Result<_, _>>()?;
/// assert!(matches!(events[0].event, guard_record::Event::SessionStart(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_events<R: Read>(reader: R) -> Events<R> {
    Events {
        reader: BufReader::with_capacity(256 << 10, reader),
        buf: Vec::new(),
        line: 0,
        done: false,
    }
}

/// Iterator returned by [`read_events`].
#[derive(Debug)]
pub struct Events<R> {
    reader: BufReader<R>,
    buf: Vec<u8>,
    line: u64,
    done: bool,
}

#[derive(serde::Deserialize)]
struct Envelope<'a> {
    seq: u64,
    t: u64,
    #[serde(rename = "type", borrow)]
    ty: &'a str,
}

impl<R: Read> Iterator for Events<R> {
    type Item = Result<RecordedEvent, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.line += 1;
        let line = self.line;
        match read_line(&mut self.reader, &mut self.buf, MAX_LINE_BYTES) {
            Err(source) => {
                self.done = true;
                return Some(Err(ReplayError::Io { line, source }));
            }
            Ok(LineRead::Eof) => {
                self.done = true;
                return None;
            }
            Ok(LineRead::TooLong) => {
                self.done = true;
                return Some(Err(ReplayError::Malformed {
                    line,
                    reason: "line too long".into(),
                }));
            }
            Ok(LineRead::Line { .. }) => {}
        }
        let text = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        let env: Envelope<'_> = match serde_json::from_slice(text) {
            Ok(e) => e,
            Err(e) => {
                return Some(Err(ReplayError::Malformed {
                    line,
                    reason: e.to_string(),
                }));
            }
        };
        if env.ty == SEAL_TYPE {
            self.done = true;
            return None;
        }
        let (seq, t_us) = (env.seq, env.t);
        Some(match serde_json::from_slice::<Event>(text) {
            Ok(event) => Ok(RecordedEvent { seq, t_us, event }),
            Err(e) => Err(ReplayError::Malformed {
                line,
                reason: e.to_string(),
            }),
        })
    }
}

/// One row of a database timeline, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TimelineEntry {
    /// Sequence number.
    pub seq: u64,
    /// Offset from the session start, microseconds.
    pub t_us: u64,
    /// Wall-clock time, RFC 3339 UTC with microseconds (when the start is known).
    pub time: Option<String>,
    /// The identity's subject (when the start is known).
    pub identity: Option<String>,
    /// The event type (`input`, `decision`, ...).
    pub kind: String,
    /// A one-line description: the statement, the verdict and rules, the row count.
    pub detail: String,
}

/// Turns events into timeline entries, carrying the session start along.
#[derive(Debug, Default)]
pub struct Timeline {
    start: Option<SessionStart>,
}

impl Timeline {
    /// A timeline that has not seen a session start yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry for one event.
    pub fn entry(&mut self, ev: &RecordedEvent) -> TimelineEntry {
        if let Event::SessionStart(s) = &ev.event {
            self.start = Some(s.clone());
        }
        let time = self.start.as_ref().map(|s| {
            rfc3339_micros(
                s.started_at
                    .as_unix_micros()
                    .saturating_add(i64::try_from(ev.t_us).unwrap_or(i64::MAX)),
            )
        });
        TimelineEntry {
            seq: ev.seq,
            t_us: ev.t_us,
            time,
            identity: self.start.as_ref().map(|s| s.identity.subject.clone()),
            kind: ev.event.type_name().to_owned(),
            detail: describe(&ev.event),
        }
    }
}

impl TimelineEntry {
    /// The human-readable form: `time  +offset  identity  kind  detail`.
    pub fn to_text(&self) -> String {
        format!(
            "{}  +{}.{:06}s  {:<12}  {:<13}  {}",
            self.time.as_deref().unwrap_or("-"),
            self.t_us / 1_000_000,
            self.t_us % 1_000_000,
            self.identity.as_deref().unwrap_or("-"),
            self.kind,
            self.detail
        )
    }
}

fn describe(e: &Event) -> String {
    match e {
        Event::SessionStart(s) => format!(
            "{} session {} to {} from {} via {}",
            s.protocol,
            s.session,
            s.resource.name,
            s.client_addr.as_deref().unwrap_or("?"),
            s.gateway
        ),
        Event::Input(Input::Query { text, params }) if params.is_empty() => one_line(text),
        Event::Input(Input::Query { text, params }) => {
            format!("{} -- {} parameters", one_line(text), params.len())
        }
        Event::Input(Input::K8sRequest { method, uri }) => format!("{method} {uri}"),
        Event::Input(Input::Exec { channel, command }) => {
            format!("exec[{channel}] {}", one_line(command))
        }
        Event::Input(Input::ChannelData { channel, data }) => {
            format!("stdin[{channel}] {} bytes", data.0.len())
        }
        Event::Input(Input::CopyData { data }) => format!("COPY data in, {} bytes", data.0.len()),
        Event::Input(Input::Resize {
            channel,
            cols,
            rows,
        }) => format!("resize[{channel}] {cols}x{rows}"),
        Event::Decision(d) => {
            let mut s = d.verdict.kind().to_owned();
            if !d.rules.is_empty() {
                s.push_str(&format!(" [{}]", d.rules.join(", ")));
            }
            if !d.masks.is_empty() {
                s.push_str(&format!(" masks [{}]", d.masks.join(", ")));
            }
            if let Some(m) = &d.message {
                s.push_str(&format!(": {m}"));
            }
            if !d.enforced {
                s.push_str(" (audit only)");
            }
            s
        }
        Event::Approval(a) => format!(
            "approval {} {:?}{}",
            a.id,
            a.state,
            a.by.as_ref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default()
        ),
        Event::Grant(g) => format!("grant {} {:?}", g.id, g.action),
        Event::Output(Output::Rows { columns, rows }) => {
            format!("{} rows ({})", rows.len(), columns.join(", "))
        }
        Event::Output(Output::Result { tag, rows, .. }) => format!("{tag} ({rows} rows)"),
        Event::Output(Output::CopyData { data }) => {
            format!("COPY data out, {} bytes", data.0.len())
        }
        Event::Output(Output::K8sResponse { status, bytes }) => {
            format!("HTTP {status}, {bytes} bytes")
        }
        Event::Output(Output::ChannelData {
            channel,
            stderr,
            data,
        }) => {
            format!(
                "{}[{channel}] {} bytes",
                if *stderr { "stderr" } else { "stdout" },
                data.0.len()
            )
        }
        Event::Output(Output::ExitStatus { channel, status }) => {
            format!("exit[{channel}] {status}")
        }
        Event::Error(e) => format!(
            "{} {} ({})",
            e.code.as_deref().unwrap_or("-"),
            e.message,
            e.fault
        ),
        Event::SizeCap(c) => format!(
            "size cap of {} bytes reached; output no longer recorded",
            c.limit_bytes
        ),
        Event::SessionEnd(s) => {
            let counters: Vec<String> =
                s.counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}", s.reason, counters.join(" "))
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Formats Unix microseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn rfc3339_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = crate::sink::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Options for [`write_cast`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CastOptions {
    /// Only this channel (`None`: all channels).
    pub channel: Option<u32>,
    /// Terminal size when the recording has no `resize` before the first output.
    pub default_size: (u16, u16),
    /// Also export client keystrokes as `"i"` events.
    pub include_input: bool,
}

impl Default for CastOptions {
    fn default() -> Self {
        Self {
            channel: None,
            default_size: (80, 24),
            include_input: false,
        }
    }
}

impl CastOptions {
    /// All channels, 80x24 unless the recording says otherwise, output only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Exports only `channel` (`None`: all).
    pub fn channel(&mut self, channel: Option<u32>) -> &mut Self {
        self.channel = channel;
        self
    }

    /// Sets the size used when the recording has no `resize` before the first output.
    pub fn default_size(&mut self, cols: u16, rows: u16) -> &mut Self {
        self.default_size = (cols, rows);
        self
    }

    /// Also exports client keystrokes as `"i"` events.
    pub fn include_input(&mut self, yes: bool) -> &mut Self {
        self.include_input = yes;
        self
    }
}

/// What [`write_cast`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CastStats {
    /// Events written after the header.
    pub events: u64,
    /// Terminal bytes exported.
    pub bytes: u64,
}

/// Exports the terminal channels of a recording as asciinema v2 (`.cast`): a header line
/// `{"version": 2, "width": W, "height": H, "timestamp": T, ...}` and one
/// `[seconds, "o", "text"]` line per output chunk (`"i"` for input when asked, `"r"` for
/// resizes). Terminal bytes that are not valid UTF-8 are carried to the next chunk when they
/// may be the start of a character split across chunks, and replaced with U+FFFD otherwise.
///
/// # Errors
/// Reading or writing failed, or a line is not an event.
pub fn write_cast<R: Read, W: Write>(
    recording: R,
    mut out: W,
    opts: &CastOptions,
) -> Result<CastStats, ReplayError> {
    let io = |source| ReplayError::Io { line: 0, source };
    let mut stats = CastStats::default();
    let mut pending: Vec<RecordedEvent> = Vec::new();
    let mut header_written = false;
    let mut start: Option<SessionStart> = None;
    let mut size = opts.default_size;
    let mut carry_o: Vec<u8> = Vec::new();
    let mut carry_i: Vec<u8> = Vec::new();
    let wants = |ch: u32| opts.channel.is_none_or(|c| c == ch);
    for ev in read_events(recording) {
        let ev = ev?;
        if !header_written {
            match &ev.event {
                Event::SessionStart(s) => {
                    start = Some(s.clone());
                    continue;
                }
                Event::Input(Input::Resize {
                    channel,
                    cols,
                    rows,
                }) if wants(*channel) => {
                    size = (*cols, *rows);
                    continue;
                }
                Event::Output(Output::ChannelData { .. }) | Event::Input(_) => {
                    write_header(&mut out, size, start.as_ref()).map_err(io)?;
                    header_written = true;
                    for p in pending.drain(..) {
                        cast_event(&mut out, &p, opts, &mut carry_o, &mut carry_i, &mut stats)
                            .map_err(io)?;
                    }
                }
                _ => {
                    pending.push(ev);
                    continue;
                }
            }
        }
        cast_event(&mut out, &ev, opts, &mut carry_o, &mut carry_i, &mut stats).map_err(io)?;
    }
    if !header_written {
        write_header(&mut out, size, start.as_ref()).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(stats)
}

fn write_header<W: Write>(
    out: &mut W,
    size: (u16, u16),
    start: Option<&SessionStart>,
) -> std::io::Result<()> {
    let mut h = serde_json::json!({"version": 2, "width": size.0, "height": size.1});
    if let Some(s) = start {
        h["timestamp"] = serde_json::json!(s.started_at.as_unix_secs());
        h["title"] = serde_json::json!(format!(
            "{} on {} ({})",
            s.identity.subject, s.resource.name, s.session
        ));
    }
    h["env"] = serde_json::json!({"TERM": "xterm-256color"});
    serde_json::to_writer(&mut *out, &h)?;
    out.write_all(b"\n")
}

fn cast_event<W: Write>(
    out: &mut W,
    ev: &RecordedEvent,
    opts: &CastOptions,
    carry_o: &mut Vec<u8>,
    carry_i: &mut Vec<u8>,
    stats: &mut CastStats,
) -> std::io::Result<()> {
    let wants = |ch: u32| opts.channel.is_none_or(|c| c == ch);
    let t = ev.t_us as f64 / 1e6;
    let (code, text) = match &ev.event {
        Event::Output(Output::ChannelData { channel, data, .. }) if wants(*channel) => {
            stats.bytes += data.0.len() as u64;
            ("o", take_utf8(carry_o, &data.0))
        }
        Event::Input(Input::ChannelData { channel, data })
            if opts.include_input && wants(*channel) =>
        {
            ("i", take_utf8(carry_i, &data.0))
        }
        Event::Input(Input::Resize {
            channel,
            cols,
            rows,
        }) if wants(*channel) => ("r", format!("{cols}x{rows}")),
        _ => return Ok(()),
    };
    if text.is_empty() {
        return Ok(());
    }
    serde_json::to_writer(&mut *out, &(t, code, text))?;
    out.write_all(b"\n")?;
    stats.events += 1;
    Ok(())
}

/// Appends `data` to `carry` and returns the longest valid UTF-8 text, keeping an incomplete
/// trailing character (at most 3 bytes) for the next chunk.
fn take_utf8(carry: &mut Vec<u8>, data: &[u8]) -> String {
    carry.extend_from_slice(data);
    let mut text = String::new();
    let mut rest: &[u8] = carry;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                text.push_str(s);
                rest = &[];
                break;
            }
            Err(e) => {
                let (good, after) = rest.split_at(e.valid_up_to());
                // `valid_up_to` marks a prefix that is valid UTF-8.
                text.push_str(std::str::from_utf8(good).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        text.push('\u{fffd}');
                        rest = &after[n..];
                    }
                    None => {
                        rest = after; // incomplete character at the end: keep it
                        break;
                    }
                }
            }
        }
    }
    let keep = rest.to_vec();
    *carry = keep;
    text
}

/// Terminal output frames of a recording, for playback: `(offset µs, bytes)` for every
/// `output` channel-data event on `channel` (or any channel).
///
/// # Errors
/// As for [`read_events`].
pub fn terminal_frames<R: Read>(
    recording: R,
    channel: Option<u32>,
) -> impl Iterator<Item = Result<(u64, Vec<u8>), ReplayError>> {
    read_events(recording).filter_map(move |ev| match ev {
        Err(e) => Some(Err(e)),
        Ok(RecordedEvent {
            t_us,
            event:
                Event::Output(Output::ChannelData {
                    channel: c, data, ..
                }),
            ..
        }) if channel.is_none_or(|ch| ch == c) => Some(Ok((t_us, data.0))),
        Ok(_) => None,
    })
}

/// Writes a database timeline as text (one line per event) or as JSON Lines of
/// [`TimelineEntry`].
///
/// # Errors
/// Reading or writing failed, or a line is not an event.
pub fn write_timeline<R: Read, W: Write>(
    recording: R,
    mut out: W,
    json: bool,
) -> Result<u64, ReplayError> {
    let io = |source| ReplayError::Io { line: 0, source };
    let mut tl = Timeline::new();
    let mut n = 0;
    for ev in read_events(recording) {
        let entry = tl.entry(&ev?);
        if json {
            serde_json::to_writer(&mut out, &entry).map_err(|e| io(e.into()))?;
            out.write_all(b"\n").map_err(io)?;
        } else {
            writeln!(out, "{}", entry.to_text()).map_err(io)?;
        }
        n += 1;
    }
    out.flush().map_err(io)?;
    Ok(n)
}

/// Reads the whole `BufRead` into events (convenience for small recordings and tests).
///
/// # Errors
/// The first line that is not an event.
pub fn read_all_events<R: BufRead>(reader: R) -> Result<Vec<RecordedEvent>, ReplayError> {
    read_events(reader).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_carry_over() {
        let mut carry = Vec::new();
        let euro = "€".as_bytes();
        assert_eq!(take_utf8(&mut carry, &[b'a', euro[0]]), "a");
        assert_eq!(take_utf8(&mut carry, &euro[1..]), "€");
        assert_eq!(take_utf8(&mut carry, &[0xff, b'b']), "\u{fffd}b");
        assert!(carry.is_empty());
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_764_115_200_123_456),
            "2025-11-26T00:00:00.123456Z"
        );
        assert_eq!(rfc3339_micros(-1), "1969-12-31T23:59:59.999999Z");
    }
}
