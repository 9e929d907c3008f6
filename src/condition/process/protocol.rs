//! Pure: the frames between the worker and an evaluator process, over the child's stdin and stdout.
//!
//! Every frame is a 4-byte big-endian length and that many bytes. A job is `kind` (1 byte: compile or evaluate),
//! then three length-prefixed parts: the condition's source, the task input's JSON text and `$.output`'s JSON text
//! (both empty for a compile). An answer is a small JSON document ([`WireAnswer`]); before it, an evaluate job may
//! get an empty frame, "the script starts now" ([`write_started`]).

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::condition::{ConditionError, Verdict};

/// Largest job accepted: the input and the response body are bounded well below it (`http.max_response_body_bytes`
/// ≤ 64 MiB, task input ≤ the server's payload limits).
pub const MAX_JOB_BYTES: usize = 256 * 1024 * 1024;
/// Largest answer accepted: answers carry one short message.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What a job asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Parse only.
    Compile = 1,
    /// Parse and evaluate with `$`.
    Evaluate = 2,
}

/// A decoded job, borrowing its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobParts<'a> {
    /// What to do.
    pub kind: JobKind,
    /// The condition.
    pub source: &'a str,
    /// The task input's JSON text.
    pub input: &'a [u8],
    /// `$.output`'s JSON text.
    pub output: &'a [u8],
}

/// Encodes a job frame (length prefix included); `write_output` writes `$.output`'s JSON text in place.
pub fn encode_job(kind: JobKind, source: &str, input: &[u8], write_output: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut frame = Vec::with_capacity(64 + source.len() + input.len());
    frame.extend_from_slice(&[0; 4]);
    frame.push(kind as u8);
    put_part(&mut frame, source.as_bytes());
    put_part(&mut frame, input);
    let output_at = frame.len();
    frame.extend_from_slice(&[0; 4]);
    write_output(&mut frame);
    let output_len = (frame.len() - output_at - 4) as u32;
    frame[output_at..output_at + 4].copy_from_slice(&output_len.to_be_bytes());
    let body_len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&body_len.to_be_bytes());
    frame
}

fn put_part(frame: &mut Vec<u8>, part: &[u8]) {
    frame.extend_from_slice(&(part.len() as u32).to_be_bytes());
    frame.extend_from_slice(part);
}

/// Decodes a job frame's body (without its length prefix).
pub fn decode_job(body: &[u8]) -> Result<JobParts<'_>, String> {
    let (&kind, rest) = body.split_first().ok_or("empty job")?;
    let kind = match kind {
        1 => JobKind::Compile,
        2 => JobKind::Evaluate,
        other => return Err(format!("unknown job kind {other}")),
    };
    let (source, rest) = take_part(rest)?;
    let (input, rest) = take_part(rest)?;
    let (output, rest) = take_part(rest)?;
    if !rest.is_empty() {
        return Err("trailing bytes after the job".into());
    }
    let source = std::str::from_utf8(source).map_err(|_| "the source is not UTF-8")?;
    Ok(JobParts { kind, source, input, output })
}

fn take_part(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or("truncated job")?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err("truncated job".into());
    }
    Ok(rest.split_at(len))
}

/// An answer, as sent by the evaluator process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum WireAnswer {
    /// The source parsed.
    Compiled,
    /// A verdict.
    Verdict {
        /// `holds`, `not_yet` or `fails`.
        verdict: WireVerdict,
    },
    /// The script's fault (or the input's).
    Error {
        /// Which kind of error.
        kind: WireErrorKind,
        /// Its message.
        message: String,
    },
}

/// [`Verdict`] on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum WireVerdict {
    Holds,
    NotYet,
    Fails,
}

/// [`ConditionError`] kinds on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum WireErrorKind {
    Syntax,
    Runtime,
    LimitExceeded,
    Timeout,
    BadResult,
    Input,
}

impl WireAnswer {
    /// The answer to an evaluation or a compile (`Ok(None)`).
    pub fn from_result(result: Result<Option<Verdict>, ConditionError>) -> Self {
        match result {
            Ok(None) => WireAnswer::Compiled,
            Ok(Some(verdict)) => WireAnswer::Verdict {
                verdict: match verdict {
                    Verdict::Holds => WireVerdict::Holds,
                    Verdict::NotYet => WireVerdict::NotYet,
                    Verdict::Fails => WireVerdict::Fails,
                },
            },
            Err(error) => {
                let kind = match &error {
                    ConditionError::Syntax(_) => WireErrorKind::Syntax,
                    ConditionError::LimitExceeded(_) => WireErrorKind::LimitExceeded,
                    ConditionError::Timeout(_) => WireErrorKind::Timeout,
                    ConditionError::BadResult(_) => WireErrorKind::BadResult,
                    ConditionError::Input(_) => WireErrorKind::Input,
                    _ => WireErrorKind::Runtime,
                };
                let message = match error {
                    ConditionError::Syntax(m)
                    | ConditionError::Runtime(m)
                    | ConditionError::LimitExceeded(m)
                    | ConditionError::BadResult(m)
                    | ConditionError::Input(m)
                    | ConditionError::Crashed(m) => m,
                    ConditionError::Timeout(_) | ConditionError::Unavailable => String::new(),
                };
                WireAnswer::Error { kind, message }
            }
        }
    }

    /// Back to a result; `cap` is the evaluation cap the process was started with.
    pub fn into_result(self, cap: std::time::Duration) -> Result<Option<Verdict>, ConditionError> {
        match self {
            WireAnswer::Compiled => Ok(None),
            WireAnswer::Verdict { verdict } => Ok(Some(match verdict {
                WireVerdict::Holds => Verdict::Holds,
                WireVerdict::NotYet => Verdict::NotYet,
                WireVerdict::Fails => Verdict::Fails,
            })),
            WireAnswer::Error { kind, message } => Err(match kind {
                WireErrorKind::Syntax => ConditionError::Syntax(message),
                WireErrorKind::Runtime => ConditionError::Runtime(message),
                WireErrorKind::LimitExceeded => ConditionError::LimitExceeded(message),
                WireErrorKind::Timeout => ConditionError::Timeout(cap),
                WireErrorKind::BadResult => ConditionError::BadResult(message),
                WireErrorKind::Input => ConditionError::Input(message),
            }),
        }
    }
}

/// Reads one frame's body; `Ok(None)` at a clean end of input.
pub fn read_frame(reader: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes, limit {max}")));
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(Some(body))
}

/// An answer frame: the answer, and whether the process exits after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerFrame {
    /// The answer.
    #[serde(flatten)]
    pub answer: WireAnswer,
    /// The process exits after this answer (it holds too much memory); a new one takes over.
    #[serde(default)]
    pub retiring: bool,
}

/// Tells the supervisor that the job's script starts now (an empty frame; answers are never empty).
pub fn write_started(writer: &mut impl Write) -> io::Result<()> {
    writer.write_all(&0u32.to_be_bytes())?;
    writer.flush()
}

/// Writes one answer frame.
pub fn write_answer(writer: &mut impl Write, frame: &AnswerFrame) -> io::Result<()> {
    let body = serde_json::to_vec(frame).map_err(io::Error::other)?;
    writer.write_all(&(body.len() as u32).to_be_bytes())?;
    writer.write_all(&body)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip() {
        let frame = encode_job(JobKind::Evaluate, "$.a == 'é'", b"{\"a\":1}", |out| {
            out.extend_from_slice(b"{\"status\":200}");
        });
        let body = read_frame(&mut &frame[..], MAX_JOB_BYTES).unwrap().unwrap();
        let parts = decode_job(&body).unwrap();
        assert_eq!(
            parts,
            JobParts {
                kind: JobKind::Evaluate,
                source: "$.a == 'é'",
                input: b"{\"a\":1}",
                output: b"{\"status\":200}"
            }
        );
        let compile = encode_job(JobKind::Compile, "x", b"", |_| {});
        let body = read_frame(&mut &compile[..], MAX_JOB_BYTES).unwrap().unwrap();
        assert_eq!(decode_job(&body).unwrap().kind, JobKind::Compile);
        assert!(decode_job(&body[..body.len() - 1]).is_err(), "truncated");
        assert!(decode_job(&[9, 0, 0, 0, 0]).is_err(), "unknown kind");
        assert_eq!(read_frame(&mut &b""[..], 10).unwrap(), None, "clean end");
        assert!(read_frame(&mut &[0, 0, 1, 0][..], 10).is_err(), "over the limit");
    }

    #[test]
    fn answers_round_trip() {
        let cap = std::time::Duration::from_millis(50);
        let results = [
            Ok(None),
            Ok(Some(Verdict::Holds)),
            Ok(Some(Verdict::NotYet)),
            Ok(Some(Verdict::Fails)),
            Err(ConditionError::Syntax("s".into())),
            Err(ConditionError::Runtime("r".into())),
            Err(ConditionError::LimitExceeded("l".into())),
            Err(ConditionError::Timeout(cap)),
            Err(ConditionError::BadResult("b".into())),
            Err(ConditionError::Input("i".into())),
        ];
        for result in results {
            let mut wire = Vec::new();
            let frame = AnswerFrame { answer: WireAnswer::from_result(result.clone()), retiring: true };
            write_answer(&mut wire, &frame).unwrap();
            let body = read_frame(&mut &wire[..], MAX_ANSWER_BYTES).unwrap().unwrap();
            let read: AnswerFrame = serde_json::from_slice(&body).unwrap();
            assert_eq!(read, frame);
            assert_eq!(read.answer.into_result(cap), result);
        }
    }
}
