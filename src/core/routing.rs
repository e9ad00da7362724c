//! Where a tunnel's requests go: its targets (`--to`, given several times
//! for fan-out), its routes (`--route 'GLOB=URL'`, first match wins) and
//! its filter (`--filter COND`). The client builds [`Streams`] from its
//! flags and sends it with the upgrade; the server compiles it into
//! [`Routing`] and decides with it, per target, which requests are that
//! target's and which the filter leaves out (recorded as skipped without
//! crossing the wire).

use serde::{Deserialize, Serialize};

use crate::core::matcher::{Match, PathGlob, Subject};

/// Targets one tunnel may deliver to.
pub const MAX_TARGETS: usize = 16;

/// The routing a client asks for, sent as the upgrade's `streams` query
/// parameter (JSON). Each target is its own delivery stream, with its own
/// position; `RelayRequest::target` is an index into `targets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Streams {
    /// Every target URL, each once.
    pub targets: Vec<String>,
    /// `[path glob, target index]`, tried in order; the first match wins.
    #[serde(default)]
    pub routes: Vec<(String, usize)>,
    /// The targets that take what no route matches (the `--to`s).
    #[serde(default)]
    pub default: Vec<usize>,
    /// Conditions a request must meet to be delivered (all of them).
    #[serde(default)]
    pub filter: Vec<String>,
}

/// A target as the client calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as written.
    pub url: String,
    /// True for a route's URL with a path of its own
    /// (`http://localhost:4242/webhooks`): requests go to exactly that
    /// URL. Otherwise the request's sub-path is appended, as for `--to`.
    pub exact: bool,
}

impl Streams {
    /// Builds the routing from the client's flags: `to` URLs, `routes` as
    /// written (`PATH_GLOB=URL`) and filter conditions. Returns it with
    /// each target's URL and how it is called; checks everything, with the
    /// messages the server would give.
    pub fn from_flags(
        to: &[String],
        routes: &[String],
        filter: &[String],
    ) -> Result<(Self, Vec<Target>), String> {
        let mut streams = Self {
            filter: filter.to_vec(),
            ..Self::default()
        };
        let mut targets: Vec<Target> = Vec::new();
        let index = |url: &str, exact: bool, targets: &mut Vec<Target>| {
            match targets.iter().position(|t| t.url == url) {
                Some(i) => {
                    // Also a `--to`: that one appends the sub-path.
                    targets[i].exact &= exact;
                    i
                }
                None => {
                    targets.push(Target {
                        url: url.to_owned(),
                        exact,
                    });
                    targets.len() - 1
                }
            }
        };
        for url in to {
            let i = index(url, false, &mut targets);
            if !streams.default.contains(&i) {
                streams.default.push(i);
            }
        }
        for route in routes {
            let (glob, url) = route.split_once('=').ok_or_else(|| {
                format!("--route {route:?} needs PATH_GLOB=URL, e.g. '/stripe/**=http://localhost:4242/webhooks'")
            })?;
            PathGlob::parse(glob).map_err(|e| format!("--route {route:?}: {e}"))?;
            let i = index(url, has_path(url), &mut targets);
            streams.routes.push((glob.to_owned(), i));
        }
        streams.targets = targets.iter().map(|t| t.url.clone()).collect();
        streams.compile()?;
        Ok((streams, targets))
    }

    /// Checks the routing and compiles its globs and conditions.
    pub fn compile(&self) -> Result<Routing, String> {
        if self.targets.is_empty() {
            return Err("a tunnel needs a target: pass --to http://localhost:3000".into());
        }
        if self.targets.len() > MAX_TARGETS {
            return Err(format!(
                "{} targets is too many: a tunnel delivers to at most {MAX_TARGETS}",
                self.targets.len()
            ));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if t.len() > 2048 {
                return Err(format!("target {t:?} is over 2048 characters"));
            }
            if self.targets[..i].contains(t) {
                return Err(format!("target {t:?} is given twice"));
            }
        }
        let in_range = |i: &usize| *i < self.targets.len();
        if !self.default.iter().all(in_range) || !self.routes.iter().map(|(_, i)| i).all(in_range) {
            return Err("a route or default names a target that is not listed".into());
        }
        let routes = self
            .routes
            .iter()
            .map(|(glob, i)| {
                Ok((
                    PathGlob::parse(glob).map_err(|e| format!("--route {glob:?}: {e}"))?,
                    *i,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let filter = Match::parse(&self.filter).map_err(|e| format!("--filter {e}"))?;
        Ok(Routing {
            trivial: routes.is_empty() && filter.is_empty(),
            routes,
            default: self.default.clone(),
            filter,
        })
    }
}

/// True when `url` has a path beyond `/`.
fn has_path(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/')
        .is_some_and(|i| !rest[i..].trim_end_matches('/').is_empty())
}

/// [`Streams`], checked and compiled.
#[derive(Debug, Clone)]
pub struct Routing {
    routes: Vec<(PathGlob, usize)>,
    default: Vec<usize>,
    filter: Match,
    trivial: bool,
}

impl Routing {
    /// True when there are no routes and no filter: every target gets
    /// every request (no need to look at them).
    pub fn is_trivial(&self) -> bool {
        self.trivial
    }

    /// True when target `target` gets requests with sub-path `path`: the
    /// first route whose glob matches decides, else the `--to` targets.
    pub fn owns(&self, target: usize, path: &str) -> bool {
        match self.routes.iter().find(|(glob, _)| glob.matches(path)) {
            Some((_, t)) => *t == target,
            None => self.default.contains(&target),
        }
    }

    /// True when the filter lets the request through.
    pub fn passes(&self, s: &Subject<'_>) -> bool {
        self.filter.holds(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(
        to: &[&str],
        routes: &[&str],
        filter: &[&str],
    ) -> Result<(Streams, Vec<Target>), String> {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Streams::from_flags(&v(to), &v(routes), &v(filter))
    }

    #[test]
    fn routes_pick_one_target_and_the_rest_fan_out() {
        let (streams, targets) = flags(
            &["http://a:1", "http://b:2"],
            &["/stripe/**=http://c:3/webhooks", "/gh/*=http://a:1"],
            &[],
        )
        .expect("valid");
        assert_eq!(
            streams.targets,
            ["http://a:1", "http://b:2", "http://c:3/webhooks"]
        );
        assert_eq!(
            targets.iter().map(|t| t.exact).collect::<Vec<_>>(),
            [false, false, true]
        );
        let r = streams.compile().expect("compiles");
        assert!(!r.is_trivial());
        // Routed: only its target.
        assert!(r.owns(2, "/stripe/evt") && !r.owns(0, "/stripe/evt") && !r.owns(1, "/stripe"));
        assert!(r.owns(0, "/gh/push") && !r.owns(1, "/gh/push"));
        // Unrouted: every --to.
        assert!(r.owns(0, "/other") && r.owns(1, "/other") && !r.owns(2, "/other"));
    }

    #[test]
    fn bad_flags_say_what_to_write() {
        let e = flags(&["http://a:1"], &["/x"], &[]).expect_err("no =");
        assert!(e.contains("PATH_GLOB=URL"), "{e}");
        let e = flags(&["http://a:1"], &["x=http://b"], &[]).expect_err("glob");
        assert!(e.contains("--route"), "{e}");
        let e = flags(&["http://a:1"], &[], &["heder.x=1"]).expect_err("filter");
        assert!(e.starts_with("--filter condition \"heder.x=1\""), "{e}");
        assert!(flags(&[], &[], &[]).is_err());
    }

    #[test]
    fn a_plain_tunnel_is_trivial() {
        let (streams, _) = flags(&["http://a:1", "http://a:1"], &[], &[]).expect("valid");
        assert_eq!(streams.targets.len(), 1);
        assert!(streams.compile().expect("compiles").is_trivial());
        assert!(has_path("http://h:1/x") && !has_path("http://h:1/") && !has_path("http://h:1"));
    }
}
