//! One module per resource; [`all`] registers them with their OpenAPI docs.

pub mod account;
pub mod accounting;
pub mod back_office;
pub mod channel_ops;
pub mod channels;
pub mod destination;
pub mod fulfilments;
pub mod hosted_pages;
pub mod inbound;
pub mod invoices;
pub mod journal;
pub mod orders;
pub mod plugin_rules;
pub mod plugins;
pub mod products;
pub mod stock;
pub mod stores;
pub mod webhooks;

use serde::{Deserialize, Deserializer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// Register every `/v1` route.
pub fn all(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(account::get_account))
        .routes(routes!(account::list_tokens, account::create_token))
        .routes(routes!(account::revoke_token))
        .routes(routes!(stores::list_stores, stores::create_store))
        .routes(routes!(
            stores::get_store,
            stores::update_store,
            stores::delete_store
        ))
        .routes(routes!(channels::list_channels, channels::create_channel))
        .routes(routes!(
            channels::get_channel,
            channels::update_channel,
            channels::delete_channel
        ))
        .routes(routes!(products::list_products, products::create_product))
        .routes(routes!(
            products::get_product,
            products::update_product,
            products::delete_product
        ))
        .routes(routes!(stock::list_stock, stock::bulk_change_stock))
        .routes(routes!(stock::get_stock, stock::set_stock))
        .routes(routes!(stock::adjust_stock))
        .routes(routes!(stock::explain_stock))
        .routes(routes!(journal::list_journal))
        .routes(routes!(channel_ops::test_channel))
        .routes(routes!(channel_ops::import_channel))
        .routes(routes!(channel_ops::get_job))
        .routes(routes!(channel_ops::backfill_channel))
        .routes(routes!(channel_ops::download_listings))
        .routes(routes!(channel_ops::channel_health))
        .routes(routes!(channel_ops::list_import_errors))
        .routes(routes!(channel_ops::retry_import_error))
        .routes(routes!(channel_ops::handle_import_error_manually))
        .routes(routes!(channel_ops::list_listings))
        .routes(routes!(channel_ops::list_sku_mappings))
        .routes(routes!(
            channel_ops::put_sku_mapping,
            channel_ops::delete_sku_mapping
        ))
        .routes(routes!(orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::hold_order))
        .routes(routes!(orders::release_order))
        .routes(routes!(orders::cancel_order))
        .routes(routes!(orders::mark_manual))
        .routes(routes!(
            fulfilments::list_fulfilments,
            fulfilments::create_fulfilment
        ))
        .routes(routes!(
            fulfilments::get_fulfilment,
            fulfilments::update_fulfilment
        ))
        .routes(routes!(fulfilments::cancel_fulfilment))
        .routes(routes!(fulfilments::retry_fulfilment))
        .routes(routes!(
            fulfilments::get_carriers,
            fulfilments::put_carriers
        ))
        .routes(routes!(
            back_office::get_back_office,
            back_office::put_back_office,
            back_office::delete_back_office
        ))
        .routes(routes!(back_office::list_back_office_orders))
        .routes(routes!(back_office::resend_back_office_order))
        .routes(routes!(back_office::handle_back_office_manually))
        .routes(routes!(
            plugin_rules::get_plugin_rules,
            plugin_rules::put_plugin_rules
        ))
        .routes(routes!(plugin_rules::dry_run_plugin_rules))
        .routes(routes!(
            hosted_pages::list_hosted_pages,
            hosted_pages::create_hosted_page
        ))
        .routes(routes!(
            hosted_pages::get_hosted_page,
            hosted_pages::revoke_hosted_page
        ))
        .routes(routes!(
            invoices::get_invoice_settings,
            invoices::put_invoice_settings
        ))
        .routes(routes!(invoices::create_invoice))
        .routes(routes!(invoices::list_invoices))
        .routes(routes!(invoices::get_invoice))
        .routes(routes!(invoices::create_credit_note))
        .routes(routes!(
            accounting::list_accounting,
            accounting::create_accounting
        ))
        .routes(routes!(
            accounting::get_accounting,
            accounting::update_accounting,
            accounting::delete_accounting
        ))
        .routes(routes!(accounting::list_syncs))
        .routes(routes!(accounting::retry_sync))
        .routes(routes!(plugins::list_plugins, plugins::create_plugin))
        .routes(routes!(
            plugins::get_plugin,
            plugins::update_plugin,
            plugins::delete_plugin
        ))
        .routes(routes!(plugins::get_plugin_secret))
        .routes(routes!(plugins::create_plugin_token))
        .routes(routes!(plugins::list_plugin_orders))
        .routes(routes!(plugins::get_plugin_order))
        .routes(routes!(plugins::resend_plugin_order))
        .routes(routes!(plugins::create_plugin_fulfilment))
        .routes(routes!(plugins::report_plugin_stock))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::get_webhook_secret))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::send_test_event))
        .routes(routes!(webhooks::list_webhook_messages))
        .routes(routes!(webhooks::list_webhook_attempts))
        .routes(routes!(webhooks::replay_message))
        .routes(routes!(webhooks::replay_webhook))
}

/// For PATCH bodies: distinguish an absent field (`None`) from an explicit
/// `null` (`Some(None)`). Use with `#[serde(default, deserialize_with = ...)]`.
pub(crate) fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// For PATCH fields that cannot be cleared: absent is `None`, a value is
/// `Some`, and `null` is refused (422 naming the field) rather than read as
/// "keep it". Use with `#[serde(default, deserialize_with = "not_null")]`
/// and `#[schema(nullable = false)]`.
pub(crate) fn not_null<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "must not be null; leave the field out to keep its value",
        )),
    }
}
