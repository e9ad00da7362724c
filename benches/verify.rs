//! Cost of one signature check per scheme, for a 1 KiB and a 1 MiB body
//! (the capture benchmark measures the effect on throughput).
//! Run: `cargo bench --bench verify`.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookwire::core::verify::secrets::HeaderRule;
use hookwire::core::verify::{Secrets, Signed, check, hmac_sha1, hmac_sha256};

const NOW: i64 = 1_700_000_000;
const URL: &str = "https://hooks.example.com/0b7c3d0e-5a8f-4e0b-9a51-2b8d6f1c9e11";

/// Headers that make `body` verify under `scheme`.
fn signed_headers(scheme: &str, secret: &str, body: &[u8]) -> Vec<(String, String)> {
    let ts = NOW.to_string();
    let h = |pairs: &[(&str, String)]| {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect::<Vec<_>>()
    };
    match scheme {
        "standard-webhooks" => {
            let key = STANDARD
                .decode(secret.trim_start_matches("whsec_"))
                .expect("base64 secret");
            let sig = STANDARD.encode(hmac_sha256(&key, &[b"msg_1.", ts.as_bytes(), b".", body]));
            h(&[
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", ts.clone()),
                ("webhook-signature", format!("v1,{sig}")),
            ])
        }
        "stripe" => {
            let sig = hex::encode(hmac_sha256(secret.as_bytes(), &[ts.as_bytes(), b".", body]));
            h(&[("stripe-signature", format!("t={ts},v1={sig}"))])
        }
        "github" => h(&[(
            "x-hub-signature-256",
            format!(
                "sha256={}",
                hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
            ),
        )]),
        "slack" => {
            let sig = hex::encode(hmac_sha256(
                secret.as_bytes(),
                &[b"v0:", ts.as_bytes(), b":", body],
            ));
            h(&[
                ("x-slack-request-timestamp", ts.clone()),
                ("x-slack-signature", format!("v0={sig}")),
            ])
        }
        "shopify" => h(&[(
            "x-shopify-hmac-sha256",
            STANDARD.encode(hmac_sha256(secret.as_bytes(), &[body])),
        )]),
        "twilio" => {
            // The body is `Body=<value>`: signed as URL + "Body" + value.
            let value = body.strip_prefix(b"Body=").expect("form body");
            h(&[
                ("content-type", "application/x-www-form-urlencoded".into()),
                (
                    "x-twilio-signature",
                    STANDARD.encode(hmac_sha1(
                        secret.as_bytes(),
                        &[URL.as_bytes(), b"Body", value],
                    )),
                ),
            ])
        }
        _ => h(&[("x-auth", secret.to_owned())]),
    }
}

fn secrets_for(scheme: &str, secret: &str) -> Secrets {
    let s = Some(secret.to_owned());
    let mut out = Secrets::default();
    match scheme {
        "standard-webhooks" => out.standard_webhooks = s,
        "stripe" => out.stripe = s,
        "github" => out.github = s,
        "slack" => out.slack = s,
        "shopify" => out.shopify = s,
        "twilio" => out.twilio = s,
        _ => {
            out.header = Some(HeaderRule {
                name: "X-Auth".into(),
                value: secret.to_owned(),
            })
        }
    }
    out
}

fn main() {
    println!("signature check cost (mean of a timed loop, this machine)");
    println!("{:<18} {:>12} {:>12}", "scheme", "1 KiB", "1 MiB");
    for scheme in [
        "standard-webhooks",
        "stripe",
        "github",
        "slack",
        "shopify",
        "twilio",
        "header",
    ] {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let secrets = secrets_for(scheme, secret);
        let mut cells = Vec::new();
        for size in [1024usize, 1024 * 1024] {
            // Twilio's form parameters: a body of name=value pairs.
            let body: Vec<u8> = if scheme == "twilio" {
                b"Body="
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(b'a', size - 5))
                    .collect()
            } else {
                vec![b'x'; size]
            };
            let headers = signed_headers(scheme, secret, &body);
            let req = Signed {
                headers: &headers,
                body: &body,
                received_at: NOW * 1000,
                url: URL,
            };
            let sig = check(&secrets, &req).expect("the scheme applies");
            assert!(sig.verified, "{scheme}: {sig:?}");
            let iterations = if size > 4096 { 200 } else { 20_000 };
            let started = Instant::now();
            for _ in 0..iterations {
                std::hint::black_box(check(&secrets, std::hint::black_box(&req)));
            }
            let per: Duration = started.elapsed() / iterations;
            cells.push(format!("{:.1} µs", per.as_secs_f64() * 1e6));
        }
        println!("{scheme:<18} {:>12} {:>12}", cells[0], cells[1]);
    }
}
