//! The contract of the User-Agent parser (`feedpub::stats::agents`), checked by the
//! `user_agent` fuzz target and by `tests/fuzz_replay.rs` over every kept input:
//!
//! - `product` is never empty, at most 40 characters, one token (no white space, `/`, `;`,
//!   `(` or `)`), free of control characters (it is printed in the `feedpub stats` table),
//!   and either `unknown` or a piece of the User-Agent;
//! - a `reported` count is one the User-Agent spells (at most nine digits), under a name of
//!   the table or the User-Agent's product, with a subscription id taken from the
//!   User-Agent (empty for rows that have none);
//! - the same holds for the User-Agent as the statistics keep it (`clip_agent`);
//! - known answer: the input's product followed by `N subscribers` (and every other count
//!   form of the table) is counted as N, under its own name or a row's.

use feedpub::stats::agents::{product, reported, PATTERNS};
use feedpub::stats::clip_agent;

/// Checks the contract for `data` read as a User-Agent; `Err` says what broke.
pub fn check(data: &[u8]) -> Result<(), String> {
    let agent = String::from_utf8_lossy(data);
    check_agent(&agent)?;
    check_agent(clip_agent(&agent))?;
    known_answer(&agent, data)
}

fn check_agent(agent: &str) -> Result<(), String> {
    let name = product(agent);
    check_product(agent, &name)?;
    let Some(got) = reported(agent) else {
        return Ok(());
    };
    if reported(agent).as_ref() != Some(&got) {
        return Err(format!("{agent:?}: reported twice, two answers"));
    }
    if got.subscribers > 999_999_999 {
        return Err(format!("{agent:?}: {} subscribers", got.subscribers));
    }
    if !agent.contains(&got.subscribers.to_string()) {
        return Err(format!(
            "{agent:?}: {} subscribers, a count it does not spell",
            got.subscribers
        ));
    }
    let row = PATTERNS.iter().find(|p| p.name == got.name);
    match row {
        Some(p) if p.feed_id.is_none() && !got.feed_id.is_empty() => {
            return Err(format!(
                "{agent:?}: {} has no subscription id, got {:?}",
                p.name, got.feed_id
            ))
        }
        Some(_) => {}
        None if got.name != name => {
            return Err(format!(
            "{agent:?}: counted under {:?}, neither a row of the table nor its product {name:?}",
            got.name
        ))
        }
        None => {}
    }
    if !agent.contains(got.feed_id.as_str()) {
        return Err(format!(
            "{agent:?}: subscription id {:?} is not in it",
            got.feed_id
        ));
    }
    Ok(())
}

fn check_product(agent: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 40 {
        return Err(format!(
            "{agent:?}: product {name:?} is empty or longer than 40 characters"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c.is_whitespace() || c.is_control() || matches!(c, '/' | ';' | '(' | ')'))
    {
        return Err(format!(
            "{agent:?}: product {name:?} holds U+{:04X}",
            c as u32
        ));
    }
    if name != "unknown" && !agent.contains(name) {
        return Err(format!("{agent:?}: product {name:?} is not in it"));
    }
    Ok(())
}

/// The input's product with a count in every form of the table: whichever row (or none)
/// recognises it, the count must be read.
fn known_answer(agent: &str, data: &[u8]) -> Result<(), String> {
    let token = product(agent);
    let n = data
        .iter()
        .fold(17u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 1_000_000_000;
    let polled = format!(
        "{token}/1.0 (+https://reader.example/; {n} subscribers; {n} readers; Subscriber Count: {n}; users {n})"
    );
    let Some(got) = reported(&polled) else {
        return Err(format!("{polled:?}: the count {n} is not read"));
    };
    if got.subscribers != n {
        return Err(format!(
            "{polled:?}: {} subscribers, not {n}",
            got.subscribers
        ));
    }
    if got.name != token && !PATTERNS.iter().any(|p| p.name == got.name) {
        return Err(format!(
            "{polled:?}: counted under {:?}, not {token:?}",
            got.name
        ));
    }
    Ok(())
}
