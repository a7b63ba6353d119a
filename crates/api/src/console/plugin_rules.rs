//! The plugin rules editor of a store: one row per rule, tried on the
//! store's latest orders first; the dry run is shown as a table (orders
//! routed differently marked) before the rules can be saved.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_domain::plugin_rules::{
    Conditions, PluginRule, PluginRules, RuleAction, TotalRange,
};
use switchyard_domain::values::{CountryCode, Currency};
use switchyard_storage::{Channel, PageRequest, Plugin, Store};

use super::pages::{failed, html_response, internal, page};
use super::plugins::{plugins_of, plugins_path, rules_path};
use super::{Fields, Need, Session, say, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::plugin_rules::{DryRunOut, dry_run};

/// Orders a dry run tries the rules on.
const TRIED: u32 = 100;

const ACTIONS: [(&str, &str); 4] = [
    ("send_to_plugin", "send to plugin"),
    ("exclude", "exclude"),
    ("hold", "put on hold"),
    ("add_tag", "add tag"),
];

/// A list field: comma, space or newline separated.
fn split_list(v: &str) -> Vec<String> {
    v.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn joined(v: &[String]) -> String {
    v.join(", ")
}

fn invalid(field: String, message: String) -> ApiError {
    ApiError::field(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_rule",
        &field,
        message,
    )
}

/// The rules a rules form holds: rows `r{i}.*` in the order of their
/// `position`, without the ones ticked for removal and the blank new row;
/// and the first thing wrong with them. A field that cannot be read is
/// left empty in the rules, so the form can be shown again with the rest.
fn rules_from(f: &Fields) -> (PluginRules, Result<(), ApiError>) {
    let rows =
        f.0.iter()
            .filter_map(|(k, _)| {
                k.strip_prefix('r')?
                    .split_once('.')?
                    .0
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map_or(0, |m| m + 1);
    let mut wrong: Option<ApiError> = None;
    let mut ordered = Vec::new();
    for i in 0..rows {
        let get = |k: &str| f.get(&format!("r{i}.{k}"));
        let touched = [
            "name",
            "skus_any",
            "skus_all",
            "countries",
            "tags_any",
            "min_quantity",
            "max_quantity",
            "total_min",
            "total_max",
            "text",
            "plugin",
        ]
        .iter()
        .any(|k| !get(k).is_empty())
            || !f.all(&format!("r{i}.channels")).is_empty();
        if get("remove") == "true" || !touched {
            continue;
        }
        let mut number = |k: &str| -> Option<i64> {
            let v = get(k);
            if v.is_empty() {
                return None;
            }
            let n = v.parse::<i64>().ok();
            if n.is_none() && wrong.is_none() {
                wrong = Some(invalid(
                    format!("rules[{i}].{k}"),
                    format!("{} is not a whole number", v),
                ));
            }
            n
        };
        let (min_quantity, max_quantity) = (number("min_quantity"), number("max_quantity"));
        let (total_min, total_max) = (number("total_min"), number("total_max"));
        let position = number("position").unwrap_or(i64::try_from(i).unwrap_or(i64::MAX));
        let mut countries = Vec::new();
        for c in split_list(get("countries")) {
            match CountryCode::parse(&c) {
                Ok(code) => countries.push(code),
                Err(e) => {
                    wrong.get_or_insert_with(|| {
                        invalid(format!("rules[{i}].when.countries"), e.message)
                    });
                }
            }
        }
        let total = if total_min.is_none() && total_max.is_none() {
            None
        } else {
            match Currency::parse(get("currency")) {
                Ok(currency) => Some(TotalRange {
                    currency,
                    min: total_min,
                    max: total_max,
                }),
                Err(e) => {
                    wrong.get_or_insert_with(|| {
                        invalid(format!("rules[{i}].when.total.currency"), e.message)
                    });
                    None
                }
            }
        };
        let text = get("text");
        let reason = (!text.is_empty()).then(|| text.to_owned());
        let then = match get("action") {
            "exclude" => RuleAction::Exclude { reason },
            "hold" => RuleAction::Hold { reason },
            "add_tag" => RuleAction::AddTag {
                tag: text.to_owned(),
            },
            // The form offers four actions; anything else is the first.
            _ => RuleAction::SendToPlugin {
                plugin_id: get("plugin").to_owned(),
            },
        };
        ordered.push((
            position,
            i,
            PluginRule {
                name: get("name").to_owned(),
                when: Conditions {
                    channels: f.all(&format!("r{i}.channels")),
                    skus_any: split_list(get("skus_any")),
                    skus_all: split_list(get("skus_all")),
                    min_quantity,
                    max_quantity,
                    total,
                    countries,
                    tags_any: split_list(get("tags_any")),
                },
                then,
            },
        ));
    }
    ordered.sort_by_key(|(position, i, _)| (*position, *i));
    let rules = PluginRules {
        rules: ordered.into_iter().map(|(_, _, r)| r).collect(),
    };
    let checked = match wrong {
        Some(e) => Err(e),
        None => rules.validate().map_err(ApiError::from),
    };
    (rules, checked)
}

/// `rules[2].when.min_quantity: …` in the words of the editor.
fn in_words(message: &str) -> String {
    let Some(rest) = message.strip_prefix("rules[") else {
        return message.to_owned();
    };
    match rest.split_once(']') {
        Some((n, tail)) => match n.parse::<usize>() {
            Ok(n) => format!("Rule {}{}", n + 1, tail.replacen('.', " ", 1)),
            Err(_) => message.to_owned(),
        },
        None => message.to_owned(),
    }
}

fn rule_row(i: usize, r: Option<&PluginRule>, plugins: &[Plugin], channels: &[Channel]) -> Markup {
    let n = |k: &str| format!("r{i}.{k}");
    let when = r.map(|r| r.when.clone()).unwrap_or_default();
    let (action, plugin, text) = match r.map(|r| &r.then) {
        Some(RuleAction::SendToPlugin { plugin_id }) => {
            ("send_to_plugin", plugin_id.clone(), String::new())
        }
        Some(RuleAction::Exclude { reason }) => {
            ("exclude", String::new(), reason.clone().unwrap_or_default())
        }
        Some(RuleAction::Hold { reason }) => {
            ("hold", String::new(), reason.clone().unwrap_or_default())
        }
        Some(RuleAction::AddTag { tag }) => ("add_tag", String::new(), tag.clone()),
        None => ("send_to_plugin", String::new(), String::new()),
    };
    let num = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    html! {
        fieldset.rule data-rule=(i) {
            legend { @if r.is_some() { "Rule " (i + 1) } @else { "New rule" } }
            div.row {
                label.narrow { "Position" input type="number" name=(n("position")) value=(i + 1) min="1"; }
                label { "Name" input type="text" name=(n("name")) maxlength="200" value=(r.map(|r| r.name.as_str()).unwrap_or_default()) placeholder="e.g. Venlo ships the EU"; }
                @if r.is_some() { label.check { input type="checkbox" name=(n("remove")) value="true"; " Remove" } }
            }
            p.muted { "When (every condition filled in must hold):" }
            div.row {
                label { "Channels" select name=(n("channels")) multiple size="3" {
                    @for c in channels { option value=(c.id) selected[when.channels.contains(&c.id.to_string())] { (c.name) " (" (c.kind.as_str()) ")" } }
                } }
                label { "Any line's SKU is" input type="text" name=(n("skus_any")) value=(joined(&when.skus_any)) placeholder="SKU-1, BOX-*"; }
                label { "Every line's SKU is" input type="text" name=(n("skus_all")) value=(joined(&when.skus_all)); }
            }
            div.row {
                label.narrow { "Units at least" input type="number" name=(n("min_quantity")) min="0" value=(num(when.min_quantity)); }
                label.narrow { "Units at most" input type="number" name=(n("max_quantity")) min="0" value=(num(when.max_quantity)); }
                label.narrow { "Total currency" input type="text" name=(n("currency")) maxlength="3" value=(when.total.map(|t| t.currency.to_string()).unwrap_or_default()) placeholder="EUR"; }
                label.narrow { "Total at least (minor units)" input type="number" name=(n("total_min")) value=(num(when.total.and_then(|t| t.min))); }
                label.narrow { "Total at most (minor units)" input type="number" name=(n("total_max")) value=(num(when.total.and_then(|t| t.max))); }
            }
            div.row {
                label { "Ships to" input type="text" name=(n("countries")) value=(when.countries.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) placeholder="NL, BE, DE"; }
                label { "Has a tag" input type="text" name=(n("tags_any")) value=(joined(&when.tags_any)); }
            }
            p.muted { "Then:" }
            div.row {
                label { "Action" select name=(n("action")) {
                    @for (v, l) in ACTIONS { option value=(v) selected[v == action] { (l) } }
                } }
                label { "Plugin (for send to plugin)" select name=(n("plugin")) {
                    option value="" { "—" }
                    @for p in plugins { option value=(p.id) selected[p.id.as_str() == plugin] { (p.name) } }
                } }
                label { "Tag or reason" input type="text" name=(n("text")) maxlength="500" value=(text); }
            }
        }
    }
}

fn editor(
    store: &Store,
    csrf: &str,
    rules: &[PluginRule],
    plugins: &[Plugin],
    channels: &[Channel],
) -> Markup {
    html! {
        form.card.rules-editor method="post" action={ (rules_path(store)) "/dry-run" } {
            input type="hidden" name="csrf" value=(csrf);
            @for (i, r) in rules.iter().enumerate() { (rule_row(i, Some(r), plugins, channels)) }
            (rule_row(rules.len(), None, plugins, channels))
            p.muted { "Every matching rule applies, first to last; the first matching “send to plugin” routes the order. Nothing is saved until you have seen the dry run." }
            button type="submit" { "Dry run" }
        }
    }
}

fn plugin_name<'a>(plugins: &'a [Plugin], id: &'a str) -> &'a str {
    plugins
        .iter()
        .find(|p| p.id.as_str() == id)
        .map_or(id, |p| p.name.as_str())
}

fn dry_run_table(out: &DryRunOut, plugins: &[Plugin]) -> Markup {
    let changed = out
        .items
        .iter()
        .filter(|i| i.plugin_id_now != i.outcome.plugin_id)
        .count();
    html! {
        h2 { "Dry run" }
        p.summary {
            (out.items.len()) " latest order(s): "
            @for (p, n) in &out.summary.by_plugin { strong { (n) } " to " (plugin_name(plugins, p)) ", " }
            strong { (out.summary.stay_with_store) } " stay with the store, "
            strong { (out.summary.excluded) } " excluded, "
            strong { (out.summary.on_hold) } " on hold; "
            strong { (changed) } " would be routed differently than now."
        }
        @if out.items.is_empty() { p.empty { "The store has no orders to try the rules on." } } @else {
            table.dry-run {
                thead { tr { th { "Order" } th { "State now" } th { "Routed now" } th { "Under these rules" } th { "By rule" } th { "Excluded / held" } th { "Tags added" } } }
                tbody {
                    @for i in &out.items {
                        tr class=[(i.plugin_id_now != i.outcome.plugin_id).then_some("changed")] data-order=(i.order_id) {
                            td { a href={ "/console/orders/" (i.order_id) } { @if i.number.is_empty() { (i.order_id) } @else { (i.number) } } }
                            td { (i.state.replace('_', " ")) }
                            td { @match &i.plugin_id_now { Some(p) => (plugin_name(plugins, p)), None => span.muted { "the store" } } }
                            td.outcome { @match &i.outcome.plugin_id { Some(p) => (plugin_name(plugins, p)), None => span.muted { "the store" } } }
                            td { @if let Some(r) = &i.outcome.routed_by { (r) } }
                            td {
                                @if let Some(r) = &i.outcome.excluded { span.bad { "excluded" } " " (r) }
                                @if let Some(r) = &i.outcome.on_hold { span.bad { "hold" } " " (r) }
                            }
                            td { (joined(&i.outcome.tags_added)) }
                        }
                    }
                }
            }
        }
    }
}

async fn rules_page(
    s: &AppState,
    session: &Session,
    store: &Store,
    tried: Option<(&PluginRules, Result<DryRunOut, String>)>,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let account = &session.user.account_id;
    let plugins = match plugins_of(s, session, store).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let channels = match s
        .storage
        .list_channels(account, &store.id, &PageRequest::first(100))
        .await
    {
        Ok(c) => c.items,
        Err(e) => return failed(&e),
    };
    let saved = match s.storage.plugin_rules(account, &store.id).await {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let csrf = &session.csrf;
    let shown = tried.as_ref().map_or(&saved, |(r, _)| *r);
    let body = html! {
        p.muted {
            "Store " a href={ "/console/stores/" (store.id) } { (store.name) }
            " · " a href=(plugins_path(store)) { "Plugins" }
            " · " (saved.rules.len()) " rule(s) saved"
        }
        @if let Some(n) = notice { p.created role="status" { (n) } }
        @match &tried {
            Some((rules, Ok(out))) => {
                (dry_run_table(out, &plugins))
                form.save-rules method="post" action=(rules_path(store)) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="rules" value=(serde_json::to_string(rules).unwrap_or_default());
                    button type="submit" { "Save these " (rules.rules.len()) " rule(s)" }
                }
            }
            Some((_, Err(e))) => { p.error role="alert" { (e) } }
            None => {}
        }
        h2 { @if tried.is_some() { "Change and try again" } @else { "Rules" } }
        (editor(store, csrf, &shown.rules, &plugins, &channels))
    };
    html_response(
        status,
        page("Plugin rules", Some((&session.user, csrf)), body),
    )
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RulesQuery {
    #[serde(default)]
    done: String,
}

pub(super) async fn rules(
    State(s): State<AppState>,
    session: Session,
    Path(store): Path<String>,
    Query(q): Query<RulesQuery>,
) -> Response {
    let store = match session.store(&s, &store).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let notice =
        (q.done == "saved").then_some("Rules saved: they apply to orders imported from now on.");
    rules_page(&s, &session, &store, None, notice, StatusCode::OK).await
}

/// Try the edited rules on the store's latest orders; nothing is saved.
pub(super) async fn try_rules(
    State(s): State<AppState>,
    session: Session,
    Path(store): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(f);
    let store = match session
        .store_form(&s, f.get("csrf"), Need::Anyone, &store)
        .await
    {
        Ok(st) => st,
        Err(r) => return r,
    };
    let (rules, checked) = rules_from(&f);
    if let Err(e) = checked {
        // Show the rules as they were sent, with what is wrong.
        return refused(
            &s,
            &session,
            &store,
            &rules,
            &e,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let out = dry_run(
        &s,
        &session.user.account_id,
        &store.id,
        Some(rules.clone()),
        &PageRequest::first(TRIED),
        true,
    )
    .await;
    match out {
        Ok(out) => {
            rules_page(
                &s,
                &session,
                &store,
                Some((&rules, Ok(out))),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => refused(&s, &session, &store, &rules, &e, e.status()).await,
    }
}

/// Save rules that were shown in a dry run.
pub(super) async fn save_rules(
    State(s): State<AppState>,
    session: Session,
    Path(store): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(f);
    let store = match session
        .store_form(&s, f.get("csrf"), Need::Anyone, &store)
        .await
    {
        Ok(st) => st,
        Err(r) => return r,
    };
    let rules = match serde_json::from_str::<PluginRules>(f.get("rules")) {
        Ok(r) => r,
        Err(e) => {
            let empty = PluginRules::default();
            return rules_page(
                &s,
                &session,
                &store,
                Some((
                    &empty,
                    Err(format!("These rules cannot be read: {e}. Try them again.")),
                )),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match s
        .storage
        .set_plugin_rules(&session.user.account_id, &store.id, rules.clone())
        .await
    {
        Ok(_) => {
            tracing::info!(user = %session.user.id, store = %store.id, rules = rules.rules.len(), "plugin rules saved in the console");
            see_other(&format!("{}?done=saved", rules_path(&store)))
        }
        Err(e) => {
            let e = ApiError::from(e);
            refused(&s, &session, &store, &rules, &e, e.status()).await
        }
    }
}

/// The rules page again, with `rules` in the editor and why they were
/// refused in the editor's words (or the error page when it was not the
/// user's doing).
async fn refused(
    s: &AppState,
    session: &Session,
    store: &Store,
    rules: &PluginRules,
    e: &ApiError,
    status: StatusCode,
) -> Response {
    match say(e) {
        Some(m) => {
            rules_page(
                s,
                session,
                store,
                Some((rules, Err(in_words(&m)))),
                None,
                status,
            )
            .await
        }
        None => internal(e),
    }
}
