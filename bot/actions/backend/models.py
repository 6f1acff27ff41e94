"""SQLAlchemy 2 ORM tables of the reference shop (used by `SqlShopBackend` and `seed`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.sql_types import UtcDateTime


class Base(DeclarativeBase):
    pass


class CustomerRow(Base):
    __tablename__ = "shop_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))

    orders: Mapped[list[OrderRow]] = relationship(back_populates="customer")


class OrderRow(Base):
    __tablename__ = "shop_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("shop_customers.id"))
    status: Mapped[str] = mapped_column(String(32))
    placed_on: Mapped[date] = mapped_column(Date)
    shipping_country: Mapped[str] = mapped_column(String(2))
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    expected_delivery: Mapped[date | None] = mapped_column(Date)
    delivered_on: Mapped[date | None] = mapped_column(Date)

    customer: Mapped[CustomerRow] = relationship(back_populates="orders")
    items: Mapped[list[OrderItemRow]] = relationship(back_populates="order", order_by="OrderItemRow.id")


class OrderItemRow(Base):
    __tablename__ = "shop_order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_orders.id"))
    sku: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    size: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(Integer)
    returnable: Mapped[bool] = mapped_column(Boolean)

    order: Mapped[OrderRow] = relationship(back_populates="items")
    return_line: Mapped[ReturnLineRow | None] = relationship(back_populates="item")


class ReturnRow(Base):
    __tablename__ = "shop_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    rma: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_orders.id"))
    reason: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    lines: Mapped[list[ReturnLineRow]] = relationship(back_populates="ret")
    order: Mapped[OrderRow] = relationship()


class ReturnLineRow(Base):
    """One returned item; an item can be covered by one return only (unique item_id)."""

    __tablename__ = "shop_return_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("shop_returns.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("shop_order_items.id"), unique=True)

    ret: Mapped[ReturnRow] = relationship(back_populates="lines")
    item: Mapped[OrderItemRow] = relationship(back_populates="return_line")


class SlotRow(Base):
    __tablename__ = "shop_appointment_slots"
    __table_args__ = (UniqueConstraint("shop", "starts_at", name="uq_slot_shop_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AppointmentRow(Base):
    """A booking. At most ONE booked appointment per slot: a partial unique index enforces it."""

    __tablename__ = "shop_appointments"
    __table_args__ = (
        Index(
            "uq_appointment_booked_slot",
            "slot_id",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("shop_appointment_slots.id"))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    slot: Mapped[SlotRow] = relationship()


class ProductRow(Base):
    """A catalogue product; list fields (colours, sizes, materials, tags) are JSON arrays."""

    __tablename__ = "shop_products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    price_cents: Mapped[int] = mapped_column(Integer)
    colours: Mapped[list[str]] = mapped_column(JSON)
    sizes: Mapped[list[str]] = mapped_column(JSON)
    materials: Mapped[list[str]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)

    stock: Mapped[list[StockRow]] = relationship(back_populates="product", cascade="all, delete-orphan")


class StockRow(Base):
    """Units of one size of a product at one location (a shop, or `online`)."""

    __tablename__ = "shop_stock"
    __table_args__ = (UniqueConstraint("product_id", "location", "size", name="uq_stock_product_location_size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("shop_products.id", ondelete="CASCADE"))
    location: Mapped[str] = mapped_column(String(16))
    size: Mapped[str] = mapped_column(String(16))
    units: Mapped[int] = mapped_column(Integer)

    product: Mapped[ProductRow] = relationship(back_populates="stock")


class PairingRow(Base):
    """A curated "pairs well with" line (a SKU or a kind on each side)."""

    __tablename__ = "shop_pairings"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float] = mapped_column(Float)


class ColourRow(Base):
    """A colour name and its family ("navy" is a "blue")."""

    __tablename__ = "shop_colours"

    colour: Mapped[str] = mapped_column(String(64), primary_key=True)
    family: Mapped[str] = mapped_column(String(64))
