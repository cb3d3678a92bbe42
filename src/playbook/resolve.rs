//! Static values in a playbook's text, for people: what a step's description reads like before
//! the run, with every value that is already known put in (`plan` and the walkthrough show it).

use std::collections::BTreeMap;

use crate::language::template::{Ref, SecretSource, Template};
use crate::playbook::Playbook;

/// `text` with every `${...}` whose value is known before the run replaced by it (vars, and
/// vars of vars), and every other one by where it comes from: `← app.private_ip`,
/// `← env DISASTER_TIME`, `← secret ssm:/shop/db`. Text that does not parse as a template is
/// shown as written.
pub fn resolve(pb: &Playbook, text: &str) -> String {
    match Template::parse(text) {
        Ok(t) => show(&pb.vars, &t, 0),
        Err(_) => text.to_owned(),
    }
}

fn show(vars: &BTreeMap<String, Template>, t: &Template, depth: u32) -> String {
    let rendered: Result<String, ()> = t.render(|r| {
        Ok(match r {
            Ref::Var(name) => match vars.get(name) {
                Some(v) if depth < 16 => show(vars, v, depth + 1),
                _ => format!("← vars.{name}"),
            },
            Ref::Output { step, key } => format!("← {step}.{key}"),
            Ref::Env(name) => format!("← env {name}"),
            Ref::Run(field) => format!("← run.{field}"),
            Ref::Secret { source, key } => match source {
                SecretSource::Env => format!("← secret env:{key}"),
                SecretSource::Ssm => format!("← secret ssm:{key}"),
            },
        })
    });
    rendered.unwrap_or_else(|()| t.raw().to_owned())
}
