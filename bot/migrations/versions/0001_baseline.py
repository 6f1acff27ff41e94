"""Baseline: every table the bot's stores created with `create_all` when migrations were introduced.

Generated with `alembic revision --autogenerate` against an empty database from `bot.migrations.schema`, then
left as it is: later changes to a table are new revisions, never edits here. A database made before migrations
(its tables already there) is stamped at this revision instead of running it (`bot.migrations.upgrade`).

Revision ID: 0001_baseline
Revises: (none)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.sql_types

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_conversation_events_sender_kind", "conversation_events", ["sender_id", "event", "id"], unique=False
    )
    op.create_index(
        "ix_conversation_events_sender_session", "conversation_events", ["sender_id", "session_id", "id"], unique=False
    )
    op.create_table(
        "conversations",
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("fence", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("sender_id"),
    )
    op.create_table(
        "tracker_store_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "handoff_live",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_name", sa.String(length=200), nullable=True),
        sa.Column("taken_at", bot.sql_types.UtcDateTime(), nullable=True),
        sa.Column("agent_seen_at", bot.sql_types.UtcDateTime(), nullable=True),
        sa.Column("customer_typing_at", bot.sql_types.UtcDateTime(), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "shop_handoff_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("transcript_json", sa.Text(), nullable=False),
        sa.Column("created_at", bot.sql_types.UtcDateTime(), nullable=False),
        sa.Column("resolved_at", bot.sql_types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_shop_handoff_tickets_sender_id"), "shop_handoff_tickets", ["sender_id"], unique=False)
    op.create_table(
        "feedback",
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("reply_id", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", "reply_id"),
    )
    op.create_table(
        "proactive_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("replies", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("delivered_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proactive_outbox_pending", "proactive_outbox", ["sender_id", "delivered_at"], unique=False)
    op.create_table(
        "proactive_reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("intent", sa.String(length=200), nullable=False),
        sa.Column("entities", sa.Text(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("kill_on_user_message", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proactive_reminders_due", "proactive_reminders", ["status", "due_at"], unique=False)
    op.create_index("ix_proactive_reminders_sender", "proactive_reminders", ["sender_id", "status"], unique=False)
    op.create_table(
        "learning_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("suggestion_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("file", sa.String(length=500), nullable=True),
        sa.Column("diff", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_learning_audit_suggestion_id"), "learning_audit", ["suggestion_id"], unique=False)
    op.create_table(
        "learning_decided_signals",
        sa.Column("signal_key", sa.String(length=64), nullable=False),
        sa.Column("suggestion_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("signal_key"),
    )
    op.create_table(
        "learning_suggestions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("phrasings", sa.Text(), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("examples", sa.Text(), nullable=False),
        sa.Column("signals", sa.Text(), nullable=False),
        sa.Column("signal_keys", sa.Text(), nullable=False),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("base_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("change", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_learning_suggestions_key"), "learning_suggestions", ["key"], unique=False)
    op.create_index(op.f("ix_learning_suggestions_state"), "learning_suggestions", ["state"], unique=False)
    op.create_table(
        "customer_conversations",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "sender_id", "session_id"),
    )
    op.create_index("ix_customer_conversations_sender", "customer_conversations", ["sender_id"], unique=False)
    op.create_table(
        "customer_preferences",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "name"),
    )
    op.create_table(
        "customer_products",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_products_customer", "customer_products", ["customer_id", "at"], unique=False)
    op.create_table(
        "customer_profiles",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("shop_customer_id", sa.String(length=128), nullable=True),
        sa.Column("consent", sa.String(length=16), nullable=False),
        sa.Column("consent_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("shop_customer_id"),
    )
    op.create_table(
        "console_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", bot.sql_types.UtcDateTime(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_console_audit_at", "console_audit", ["at"], unique=False)
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", bot.sql_types.UtcDateTime(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", bot.sql_types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", bot.sql_types.UtcDateTime(), nullable=False),
        sa.Column("last_seen", bot.sql_types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", bot.sql_types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_console_sessions_staff", "console_sessions", ["staff_id"], unique=False)
    op.create_table(
        "kb_unanswered",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("top_scores", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "shop_appointment_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop", sa.String(length=32), nullable=False),
        sa.Column("starts_at", bot.sql_types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop", "starts_at", name="uq_slot_shop_start"),
    )
    op.create_index(op.f("ix_shop_appointment_slots_starts_at"), "shop_appointment_slots", ["starts_at"], unique=False)
    op.create_table(
        "shop_colours",
        sa.Column("colour", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("colour"),
    )
    op.create_table(
        "shop_customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "shop_pairings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "shop_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("colours", sa.JSON(), nullable=False),
        sa.Column("sizes", sa.JSON(), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sku"),
    )
    op.create_table(
        "verification_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_verification_failures_key_time", "verification_failures", ["key", "failed_at"], unique=False)
    op.create_table(
        "shop_appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", bot.sql_types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["shop_appointment_slots.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index(
        "uq_appointment_booked_slot",
        "shop_appointments",
        ["slot_id"],
        unique=True,
        sqlite_where=sa.text("status = 'booked'"),
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_table(
        "shop_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("placed_on", sa.Date(), nullable=False),
        sa.Column("shipping_country", sa.String(length=2), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=True),
        sa.Column("tracking_url", sa.String(length=500), nullable=True),
        sa.Column("expected_delivery", sa.Date(), nullable=True),
        sa.Column("delivered_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop_customers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "shop_stock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=16), nullable=False),
        sa.Column("size", sa.String(length=16), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["shop_products.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "location", "size", name="uq_stock_product_location_size"),
    )
    op.create_table(
        "shop_order_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("size", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("returnable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop_orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "shop_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rma", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("created_at", bot.sql_types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop_orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rma"),
    )
    op.create_table(
        "shop_return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["shop_order_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["shop_returns.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id"),
    )


def downgrade() -> None:
    op.drop_table("shop_return_lines")
    op.drop_table("shop_returns")
    op.drop_table("shop_order_items")
    op.drop_table("shop_stock")
    op.drop_table("shop_orders")
    op.drop_index(
        "uq_appointment_booked_slot",
        table_name="shop_appointments",
        sqlite_where=sa.text("status = 'booked'"),
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.drop_table("shop_appointments")
    op.drop_index("ix_verification_failures_key_time", table_name="verification_failures")
    op.drop_table("verification_failures")
    op.drop_table("shop_products")
    op.drop_table("shop_pairings")
    op.drop_table("shop_customers")
    op.drop_table("shop_colours")
    op.drop_index(op.f("ix_shop_appointment_slots_starts_at"), table_name="shop_appointment_slots")
    op.drop_table("shop_appointment_slots")
    op.drop_table("kb_unanswered")
    op.drop_index("ix_console_sessions_staff", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("staff_members")
    op.drop_index("ix_console_audit_at", table_name="console_audit")
    op.drop_table("console_audit")
    op.drop_table("customer_profiles")
    op.drop_index("ix_customer_products_customer", table_name="customer_products")
    op.drop_table("customer_products")
    op.drop_table("customer_preferences")
    op.drop_index("ix_customer_conversations_sender", table_name="customer_conversations")
    op.drop_table("customer_conversations")
    op.drop_index(op.f("ix_learning_suggestions_state"), table_name="learning_suggestions")
    op.drop_index(op.f("ix_learning_suggestions_key"), table_name="learning_suggestions")
    op.drop_table("learning_suggestions")
    op.drop_table("learning_decided_signals")
    op.drop_index(op.f("ix_learning_audit_suggestion_id"), table_name="learning_audit")
    op.drop_table("learning_audit")
    op.drop_index("ix_proactive_reminders_sender", table_name="proactive_reminders")
    op.drop_index("ix_proactive_reminders_due", table_name="proactive_reminders")
    op.drop_table("proactive_reminders")
    op.drop_index("ix_proactive_outbox_pending", table_name="proactive_outbox")
    op.drop_table("proactive_outbox")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_shop_handoff_tickets_sender_id"), table_name="shop_handoff_tickets")
    op.drop_table("shop_handoff_tickets")
    op.drop_table("handoff_live")
    op.drop_table("tracker_store_probe")
    op.drop_table("conversations")
    op.drop_index("ix_conversation_events_sender_session", table_name="conversation_events")
    op.drop_index("ix_conversation_events_sender_kind", table_name="conversation_events")
    op.drop_table("conversation_events")
