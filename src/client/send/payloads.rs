//! The bodies of the providers' sample events, with fresh ids: shapes
//! from the providers' documentation (the AI providers' from their webhook
//! guides; the others from their published sample events).

use serde_json::{Value, json};

use crate::core::time::{now_millis, rfc3339};

/// `len` random characters of `[a-zA-Z0-9]`, as providers' ids use.
pub fn alnum(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}

/// `len` random lower-case hex digits.
pub fn hex_id(len: usize) -> String {
    std::iter::repeat_with(|| fastrand::digit(16))
        .take(len)
        .collect()
}

/// A fresh UUID v4, as text.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    now_millis() / 1000
}

/// Eden AI's job result (its webhook documentation's example).
pub fn edenai(event: &str) -> Value {
    let ok = event == "success";
    json!({
        "job_id": uuid(),
        "status": event,
        "cost": "0.0015",
        "provider": "amazon",
        "feature": "ocr",
        "subfeature": "ocr_async",
        "output": if ok {
            json!({
                "raw_text": "Extracted text content...",
                "pages": [{ "lines": [{ "text": "Extracted text content...", "confidence": 0.98 }] }],
                "number_of_pages": 1
            })
        } else {
            Value::Null
        },
        "error": if ok {
            Value::Null
        } else {
            json!({ "message": "Provider error details", "error_code": "PROVIDER_ERROR" })
        },
    })
}

/// Abstrakt's success and failure payloads.
pub fn abstrakt(event: &str) -> Value {
    let job_id = format!("job_{}", alnum(12).to_ascii_lowercase());
    if event == "succeeded" {
        json!({
            "job_id": job_id,
            "status": "succeeded",
            "output": {
                "type": "image",
                "items": [{
                    "type": "image",
                    "url": format!("https://cdn.abstrakt.one/outputs/{}.png", hex_id(12)),
                }]
            },
            "credits_used": 1,
            "completed_at": rfc3339(now_millis() / 1000 * 1000).replace(".000Z", "Z"),
        })
    } else {
        json!({
            "job_id": job_id,
            "status": "failed",
            "error": { "code": "PROVIDER_FAILURE", "message": "Model execution failed: invalid input image" }
        })
    }
}

/// Cerebrium's run result.
pub fn cerebrium(event: &str) -> Value {
    let run_id = format!("{}-{}", alnum(8).to_ascii_lowercase(), hex_id(12));
    if event == "completed" {
        json!({
            "run_id": run_id,
            "run_time_ms": 5980.915546417236,
            "message": "Successfully generated images",
            "result": ["..."],
        })
    } else {
        json!({
            "run_id": run_id,
            "run_time_ms": 211.40766143798828,
            "message": "Model raised an exception: CUDA out of memory",
            "result": null,
        })
    }
}

/// A Stripe event object around a sample object of its type.
pub fn stripe(event: &str) -> Value {
    let object = match event {
        "payment_intent.succeeded" => json!({
            "id": format!("pi_{}", alnum(24)), "object": "payment_intent",
            "amount": 2000, "amount_received": 2000, "currency": "usd",
            "status": "succeeded", "livemode": false, "metadata": {},
        }),
        "payment_intent.payment_failed" => json!({
            "id": format!("pi_{}", alnum(24)), "object": "payment_intent",
            "amount": 2000, "amount_received": 0, "currency": "usd",
            "status": "requires_payment_method", "livemode": false, "metadata": {},
            "last_payment_error": {
                "type": "card_error", "code": "card_declined",
                "decline_code": "generic_decline", "message": "Your card was declined.",
            },
        }),
        "checkout.session.completed" => json!({
            "id": format!("cs_test_{}", alnum(58)), "object": "checkout.session",
            "amount_total": 2000, "currency": "usd", "mode": "payment",
            "payment_status": "paid", "status": "complete", "livemode": false,
            "customer_details": { "email": "jenny.rosen@example.com", "name": "Jenny Rosen" },
        }),
        _ => json!({
            "id": format!("ch_{}", alnum(24)), "object": "charge",
            "amount": 2000, "amount_refunded": 2000, "currency": "usd",
            "refunded": true, "status": "succeeded", "livemode": false,
        }),
    };
    json!({
        "id": format!("evt_{}", alnum(24)),
        "object": "event",
        "api_version": "2024-06-20",
        "created": unix_now(),
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": format!("req_{}", alnum(14)), "idempotency_key": uuid() },
        "type": event,
    })
}

/// GitHub's `X-GitHub-Event` and payload.
pub fn github(event: &str, hook: u32) -> (String, Value) {
    let repository = json!({
        "id": 1296269, "name": "hello-world", "full_name": "octo-org/hello-world",
        "private": false, "html_url": "https://github.com/octo-org/hello-world",
        "default_branch": "main",
    });
    let sender = json!({ "login": "octocat", "id": 1, "type": "User" });
    let sha = || hex_id(40);
    let (kind, action) = event.split_once('.').unwrap_or((event, ""));
    let body = match kind {
        "ping" => json!({
            "zen": "Design for failure.",
            "hook_id": hook,
            "hook": { "type": "Repository", "id": hook, "active": true, "events": ["push"],
                      "config": { "content_type": "json", "insecure_ssl": "0" } },
            "repository": repository, "sender": sender,
        }),
        "pull_request" => json!({
            "action": action, "number": 42,
            "pull_request": {
                "id": fastrand::u32(..), "number": 42, "state": "open",
                "title": "Retry webhooks on 5xx", "user": { "login": "octocat", "id": 1 },
                "head": { "ref": "retry-webhooks", "sha": sha() },
                "base": { "ref": "main", "sha": sha() },
            },
            "repository": repository, "sender": sender,
        }),
        "workflow_run" => json!({
            "action": action,
            "workflow_run": {
                "id": fastrand::u32(..), "name": "CI", "status": "completed",
                "conclusion": "success", "head_branch": "main", "head_sha": sha(),
                "run_number": 17,
            },
            "repository": repository, "sender": sender,
        }),
        _ => {
            let after = sha();
            json!({
                "ref": "refs/heads/main", "before": sha(), "after": after,
                "created": false, "deleted": false, "forced": false,
                "commits": [{ "id": after, "message": "Handle duplicate webhooks",
                              "timestamp": rfc3339(now_millis()),
                              "author": { "name": "Mona Octocat", "email": "octocat@github.com" } }],
                "repository": repository,
                "pusher": { "name": "octocat", "email": "octocat@github.com" },
                "sender": sender,
            })
        }
    };
    (kind.to_owned(), body)
}

/// The Standard Webhooks payload structure: `type`, `timestamp`, `data`.
pub fn standard_webhooks(event: &str) -> Value {
    let data = match event {
        "user.created" => {
            json!({ "id": uuid(), "type": "user", "username": "jenny", "email": "jenny@example.com" })
        }
        "invoice.paid" => {
            json!({ "id": format!("inv_{}", alnum(14)), "amount_due": 2000, "currency": "usd", "status": "paid" })
        }
        _ => json!({ "id": format!("inv_{}", alnum(14)), "amount_due": 2000, "currency": "usd",
                     "status": "open", "attempt_count": 1, "failure_reason": "card_declined" }),
    };
    json!({ "type": event, "timestamp": rfc3339(now_millis()), "data": data })
}

/// Slack's Events API envelope (or its URL verification challenge).
pub fn slack(event: &str) -> Value {
    if event == "url_verification" {
        return json!({ "token": alnum(24), "challenge": alnum(48), "type": "url_verification" });
    }
    let ts = format!("{}.{:06}", unix_now(), fastrand::u32(..1_000_000));
    let inner = if event == "app_mention" {
        json!({ "type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89> is the webhook handler idempotent?",
                "ts": ts, "channel": "C0LAN2Q65", "event_ts": ts })
    } else {
        json!({ "type": "message", "channel": "C0LAN2Q65", "user": "U061F7AUR", "text": "Hello from hookwire",
                "ts": ts, "event_ts": ts, "channel_type": "channel" })
    };
    json!({
        "token": alnum(24),
        "team_id": "T061EG9R6",
        "api_app_id": "A0PNCHHK2",
        "event": inner,
        "type": "event_callback",
        "event_id": format!("Ev{}", alnum(9).to_ascii_uppercase()),
        "event_time": unix_now(),
        "authorizations": [{ "team_id": "T061EG9R6", "user_id": "U0LAN0Z89", "is_bot": true }],
    })
}

/// Shopify's order (or shop, for `app/uninstalled`) payload.
pub fn shopify(event: &str) -> Value {
    let id = fastrand::u64(1 << 50..1 << 52);
    if event == "app/uninstalled" {
        return json!({ "id": id, "name": "Hookwire Test", "email": "owner@example.com",
                       "domain": "hookwire-test.myshopify.com", "myshopify_domain": "hookwire-test.myshopify.com" });
    }
    let status = if event == "orders/paid" {
        "paid"
    } else {
        "pending"
    };
    json!({
        "id": id,
        "admin_graphql_api_id": format!("gid://shopify/Order/{id}"),
        "order_number": fastrand::u32(1000..9999),
        "email": "jon@example.com",
        "created_at": rfc3339(now_millis()),
        "currency": "USD",
        "total_price": "199.00",
        "financial_status": status,
        "line_items": [{ "id": fastrand::u64(1 << 40..1 << 44), "title": "Aviator sunglasses", "quantity": 1, "price": "199.00" }],
    })
}

/// Twilio's form-encoded messaging callbacks.
pub fn twilio(event: &str) -> String {
    let sid = format!("SM{}", hex_id(32));
    let account = format!("AC{}", hex_id(32));
    let mut form = form_urlencoded::Serializer::new(String::new());
    match event {
        "message.received" => {
            form.extend_pairs([
                ("ToCountry", "US"),
                ("ToState", "CA"),
                ("SmsMessageSid", &sid),
                ("NumMedia", "0"),
                ("ToCity", ""),
                ("FromZip", ""),
                ("SmsSid", &sid),
                ("FromState", "CA"),
                ("SmsStatus", "received"),
                ("FromCity", ""),
                ("Body", "Hello from hookwire"),
                ("FromCountry", "US"),
                ("To", "+15005550006"),
                ("ToZip", ""),
                ("NumSegments", "1"),
                ("MessageSid", &sid),
                ("AccountSid", &account),
                ("From", "+14155552671"),
                ("ApiVersion", "2010-04-01"),
            ]);
        }
        _ => {
            let status = if event == "message.failed" {
                "failed"
            } else {
                "delivered"
            };
            form.extend_pairs([
                ("SmsSid", sid.as_str()),
                ("SmsStatus", status),
                ("MessageStatus", status),
                ("To", "+15005550006"),
                ("MessageSid", &sid),
                ("AccountSid", &account),
                ("From", "+14155552671"),
                ("ApiVersion", "2010-04-01"),
            ]);
            if status == "failed" {
                form.append_pair("ErrorCode", "30003");
            }
        }
    }
    form.finish()
}
