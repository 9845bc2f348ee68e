"""The node interface: what every node of a flow declares and does.

A node type is a class with a description (``type``, ``kind``, ``title``, ``description``), a pydantic ``config_model``
model (validates the node's config; its JSON Schema drives the form in the canvas), typed ports and one async
function over records:

- a **source** implements :meth:`SourceNode.read`, an async iterator of pages of :class:`Record`;
- a **filter / map / lookup** implements :meth:`ProcessNode.process`, one record in, one record out;
- a **target** implements :meth:`TargetNode.find_existing`, :meth:`TargetNode.build` and :meth:`TargetNode.send`;
  the engine calls them in that order, consults the idempotency map first, and in dry-run mode stops after
  ``build`` so that nothing is written. A create-once target whose ``find_existing`` only answers "is it there
  already?" sets :attr:`TargetNode.find_only_in_doubt`: the engine then notes every delivery before it is sent and
  asks ``find_existing`` only for records in doubt (see the attribute).

A record that must go no further raises :class:`SkipRecord`, :class:`NeedsMapping` or :class:`RecordFailed`
(any other exception also fails the record, with its message); the run goes on with the next record.
Nodes never build HTTP clients or headers: they ask the context for the connection's client.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from nodes.connectors.base import ConnectionRef
from nodes.connectors.http import AppClient
from nodes.outcomes import sentence
from nodes.texts import shown

if TYPE_CHECKING:
    from datetime import date, datetime

    from nodes.echo import Origin

__all__ = (
    "ANY",
    "Booked",
    "Deliveries",
    "Delivery",
    "Kind",
    "NeedsMapping",
    "Node",
    "NodeConfig",
    "NodeContext",
    "Port",
    "ProcessNode",
    "Record",
    "RecordFailed",
    "RecordProblem",
    "SkipRecord",
    "SourceNode",
    "TargetNode",
    "Upgrade",
    "UpgradeFailed",
)

ClientT = TypeVar("ClientT", bound=AppClient)

ANY = "any"
"""Port schema that connects to anything."""
SAME = "same"
"""Output port schema meaning "whatever came in" (filters)."""


class Kind(StrEnum):
    SOURCE = "source"
    FILTER = "filter"
    MAP = "map"
    LOOKUP = "lookup"
    TARGET = "target"


@dataclass(frozen=True)
class Port:
    """An input or output of a node. ``schema`` names the record shape, e.g. ``woocommerce.order``; ``title`` is
    the label the canvas shows beside an output when a node has more than one (in English; translated there)."""

    name: str = "main"
    schema: str = ANY
    title: str = ""


Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
"""One upgrade step of a node type: the config saved at one version → the config of the next version."""


class UpgradeFailed(Exception):
    """A saved config cannot be brought to the node type's current version; the message says why."""


class NodeConfig(BaseModel):
    """Base of every node's config model. Unknown keys are errors, so typos surface in validation."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Record:
    """One record on its way through a flow.

    Attributes:
        key: what a person searches for (order number, e-mail, SKU).
        source_id: stable identity at the source, the idempotency key (e.g. ``order:1234``).
        data: the payload as the previous node left it.
        source: the payload as the source produced it (never changed).
        context: values nodes add for later nodes (``debtor``, ``targets`` = ids delivered per target node).
        warnings: remarks logged with the record's entry (e.g. a rounding difference within tolerance).
    """

    key: str
    source_id: str
    data: dict[str, Any]
    source: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.source:
            self.source = self.data

    def derive(self, data: dict[str, Any]) -> Record:
        """A copy carrying new data (the source payload, context and warnings go along)."""
        return Record(
            key=self.key,
            source_id=self.source_id,
            data=data,
            source=self.source,
            context=copy.copy(self.context),
            warnings=list(self.warnings),
        )


@dataclass
class Delivery:
    """What a target did: the id of the record in the target application and the exchange, for the log."""

    target_id: str
    message: str = ""
    request: Any = None
    response: Any = None
    fingerprint: dict[str, Any] | None = None
    """What was booked (totals, VAT per code, lines, debtor, currency): kept with the idempotency entry so that the
    record, read again later, can be compared with it (:meth:`TargetNode.revisit`)."""
    replaces: bool = False
    """True when this delivery replaces the booking the idempotency map knew (a concept updated, a correction)."""


@dataclass(frozen=True)
class Booked:
    """What the idempotency map knows of a record delivered before: the target's id and the fingerprint it kept."""

    target_id: str
    fingerprint: dict[str, Any]


@dataclass(frozen=True)
class Deliveries:
    """What the flow's own records say of some records' deliveries to the targets after a step
    (:meth:`NodeContext.deliveries`): Koppel's answer to "is it there already?", without asking the application.

    Attributes:
        booked: source id → what was delivered (the fingerprint is empty where the target kept none).
        complete: True when a source id missing from ``booked`` was never delivered there — the targets are trusted
            since their application held nothing (every document in it came through this flow's records) and none
            of these records is in doubt — so its absence can be believed; False: ask the application about what
            ``booked`` does not hold.
    """

    booked: Mapping[str, Booked] = field(default_factory=dict)
    complete: bool = False

    def get(self, source_id: str) -> Booked | None:
        """What was delivered for ``source_id``, when Koppel's records hold it."""
        return self.booked.get(source_id)

    def absent(self, source_id: str) -> bool:
        """Whether ``source_id`` is certainly not delivered (its absence from Koppel's records can be believed)."""
        return self.complete and source_id not in self.booked


class RecordProblem(Exception):
    """Base of the outcomes that stop one record (not the run)."""

    status: ClassVar[str] = "failed"

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}


class SkipRecord(RecordProblem):
    """The record is filtered out or already present in the target: logged as skipped with the reason."""

    status = "skipped"

    def __init__(
        self,
        message: str,
        *,
        target_id: str | None = None,
        detail: dict[str, Any] | None = None,
        port: str | None = None,
    ):
        super().__init__(message, detail=detail)
        self.target_id = target_id
        self.port = port
        """An output of the node the record may leave by instead (a filter's ``discarded``, a router's
        ``otherwise``): when a wire leads from it, the record goes on there; when none does, it is skipped."""


class NeedsMapping(RecordProblem):
    """A mapping table lacks a value: the record waits (not failed) until the user fills the row.

    Args:
        table: the config field of the table (e.g. ``payment_conditions``).
        key: the missing key (e.g. ``klarna`` or ``DE:19``).
    """

    status = "waiting"

    def __init__(self, table: str, key: str, message: str | None = None) -> None:
        super().__init__(message or f"needs mapping: {table} has no row for {shown(key)}")
        self.table = table
        self.key = key
        self.detail = {"missing": {"table": table, "key": key}}


class RecordFailed(RecordProblem):
    """The record cannot be delivered; the message says why in the user's terms."""

    status = "failed"


class CursorStore(Protocol):
    async def get(self) -> str | None: ...

    async def set(self, value: str) -> None: ...


class NodeContext(Protocol):
    """What the engine offers a node while it runs."""

    flow_key: str
    run_id: str
    dry_run: bool
    params: dict[str, Any]
    """Run parameters: ``limit``, ``record_ids``, ``modified_after``/``modified_before`` (backfill), ..."""
    cache: dict[str, Any]
    """Per-run scratch space shared by the run's nodes (e.g. looked-up tables)."""

    @overload
    def client(self, connection: ConnectionRef[ClientT]) -> ClientT: ...

    @overload
    def client(self, connection: str) -> Any: ...

    def client(self, connection: str) -> Any:
        """The connector client of the named connection; typed by the config field's reference
        (``connection: AsperionConnection`` gives an ``AsperionClient``)."""
        ...

    def cursor(self, node_id: str) -> CursorStore: ...

    def now(self) -> datetime: ...

    async def deliveries(self, source_ids: Sequence[str], *, after: str | builtins.type[Node]) -> Deliveries:
        """What this flow's own records (its idempotency map, the deliveries of the record being walked, its
        delivery intents and target trust) say of ``source_ids`` at the targets the records leaving a step reach
        first: ``after`` is a step id (a node asks about its own targets with ``self.id``) or a node type (every
        step of that type, e.g. the step that maps an order to its invoice).

        A node asks this before it asks the application "is it booked already?", and asks the application only
        about what the answer leaves open (:attr:`Deliveries.complete` is False: a new database, an administration
        that held bookings before, a database restored from a backup, a record in doubt, a test run). Ids that are
        neither the walked record's own ``source_id`` nor derived from it (``source_id:…``) are never complete.
        """
        ...


class Node(ABC):
    """Base of every node type; subclasses set the class attributes and implement their kind's method."""

    type: ClassVar[str]
    """Stable identifier used in flow documents, e.g. ``woocommerce.orders``."""
    kind: ClassVar[Kind]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    app: ClassVar[str | None] = None
    """The application the node belongs to in the palette (``woocommerce``/``asperion``), if any; the connections it
    needs are its config's :class:`~nodes.connectors.base.ConnectionRef` fields (:meth:`connection_fields`)."""
    config_model: ClassVar[builtins.type[NodeConfig]] = NodeConfig
    inputs: ClassVar[tuple[Port, ...]] = (Port("in", ANY),)
    outputs: ClassVar[tuple[Port, ...]] = (Port("out", ANY),)
    ports_field: ClassVar[str | None] = None
    """A config field listing outputs the user names (a router's rules): each item's ``output`` is an output port,
    placed before the fixed :attr:`outputs` (see :meth:`output_ports`)."""
    version: ClassVar[int] = 1
    """The version of the node type's config and ports. A saved node stores the version it was made with; an older
    one is brought up to date with :attr:`upgrades` (in memory when it runs, for good when the canvas saves it)."""
    upgrades: ClassVar[Mapping[int, Upgrade]] = {}
    """Version → the step that turns a config of that version into one of the next (every version below
    :attr:`version` has one)."""

    def __init__(self, node_id: str, config: NodeConfig, ctx: NodeContext) -> None:
        self.id = node_id
        self.config = config
        self.ctx = ctx

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The node type's description for the palette and the form (JSON-serialisable)."""
        return {
            "type": cls.type,
            "kind": str(cls.kind),
            "title": cls.title,
            "description": cls.description,
            "app": cls.app,
            "version": cls.version,
            "inputs": [{"name": p.name, "schema": p.schema} for p in cls.inputs],
            "outputs": [{"name": p.name, "schema": p.schema, "title": p.title} for p in cls.outputs],
            "ports_field": cls.ports_field,
            "config_schema": cls.config_model.model_json_schema(),
        }

    @classmethod
    def output_ports(cls, config: NodeConfig | Mapping[str, Any] | None = None) -> tuple[Port, ...]:
        """The outputs of a node of this type with ``config``: those its :attr:`ports_field` names, then the fixed
        :attr:`outputs`. Without a ports field they are the fixed outputs, whatever the config."""
        if cls.ports_field is None or config is None:
            return cls.outputs
        items = config.get(cls.ports_field) if isinstance(config, Mapping) else getattr(config, cls.ports_field, None)
        named: list[Port] = []
        fixed = cls.outputs[0].schema if cls.outputs else ANY
        for item in items if isinstance(items, list) else []:
            name = item.get("output") if isinstance(item, Mapping) else getattr(item, "output", None)
            if isinstance(name, str) and name.strip():
                named.append(Port(name.strip(), fixed, name.strip()))
        return (*named, *cls.outputs)

    @classmethod
    def upgrade(cls, config: dict[str, Any], version: int) -> dict[str, Any]:
        """``config`` saved at ``version``, brought to :attr:`version` by the type's upgrade steps.

        Raises:
            UpgradeFailed: the version is newer than this type's, a step is missing, or a step refused the config.
        """
        if version > cls.version:
            raise UpgradeFailed(
                f"this step was saved by a newer Koppel (version {version}): this one knows up to version {cls.version}"
            )
        for step_version in range(version, cls.version):
            step = cls.upgrades.get(step_version)
            if step is None:
                raise UpgradeFailed(f"this step's version {step_version} can no longer be upgraded")
            try:
                config = step(copy.deepcopy(config))
            except (KeyError, TypeError, ValueError):
                raise UpgradeFailed(f"this step's settings could not be upgraded from version {step_version}") from None
        return config

    @classmethod
    def connection_fields(cls) -> dict[str, str]:
        """Config field → application, for every field typed as a :class:`~nodes.connectors.base.ConnectionRef`."""
        fields: dict[str, str] = {}
        for name, info in cls.config_model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, builtins.type) and issubclass(annotation, ConnectionRef) and annotation.app:
                fields[name] = annotation.app
        return fields

    @classmethod
    def connections(cls, config: NodeConfig) -> list[tuple[str, str, str]]:
        """``(field, connection name, application)`` of each connection the node's config names."""
        return [(name, str(getattr(config, name, "") or ""), app) for name, app in cls.connection_fields().items()]

    @classmethod
    def connection_names(cls, config: NodeConfig) -> list[str]:
        """The connections this node uses, by name."""
        names: list[str] = []
        for _, name, _ in cls.connections(config):
            if name and name not in names:
                names.append(name)
        return names

    async def open(self) -> None:
        """Called once per run before the first record (load tables, warm caches)."""

    async def close(self) -> None:
        """Called once per run after the last record."""


class SourceNode(Node):
    inputs = ()
    reads_by_id: ClassVar[bool] = False
    """True when the source honours the run parameter ``record_ids`` (reads just those records, cursor untouched):
    then a record that failed on a transient error is read again by id by a later run (engine.retryset)."""
    noun: ClassVar[str] = "records"
    """What it reads, in the setup wizard's count ("12 orders from this date"): ``records`` or ``orders``."""

    @abstractmethod
    def read(self) -> AsyncIterator[list[Record]]:
        """Pages of records, fetched lazily (never everything in memory)."""

    async def expected(self) -> int | None:
        """How many records the run will read, when the application says so cheaply (progress bar)."""
        return None

    async def newest(self) -> date | None:
        """The creation day of the newest record this source selects, when the application says so cheaply (the
        setup wizard proposes a start date from it); None: unknown."""
        return None

    async def commit_cursor(self, records: list[Record]) -> None:
        """Advance the incremental cursor past ``records`` once they have all been handled.

        ``records`` are the page's records by key and source id only: the engine lets their payload go as soon as the
        page is handled, since a page may wait here for the pages read before it."""

    def origin(self, record: Record) -> Origin | None:
        """Where Koppel made this record from, when the record itself carries Koppel's mark, else None.

        The engine skips such records: they are Koppel's own writing coming back (the echo guard), also when its own
        table of created records is gone.
        """
        return None


class ProcessNode(Node):
    """Filter, map and lookup nodes."""

    @abstractmethod
    async def process(self, record: Record) -> Record:
        """Return the record for the next node, or raise a :class:`RecordProblem`."""

    async def route(self, record: Record) -> tuple[str, Record]:
        """The output the record leaves by, and the record: what the engine calls. By default the first output and
        :meth:`process`'s record; a node with several outputs (a router) chooses one."""
        return self.output_ports(self.config)[0].name, await self.process(record)


class TargetNode(Node):
    outputs = (Port("out", ANY),)
    what: ClassVar[str] = ""
    """The kind of record this target writes, in messages ("sales invoice")."""
    verb: ClassVar[str] = "Created"
    """How the log tells a record this target made: ``Booked`` ("Booked as sales invoice 146 for Daan Bakker,
    €55.94") or ``Created`` ("Created as debtor 10016 for Daan van Dijk")."""
    would: ClassVar[str] = ""
    """A dry run's sentence for targets that change what is there ("Would update the stock of {key}"); empty: "Would
    be booked as …" (an upsert target: "Would save the {what} {key}")."""
    upsert: ClassVar[bool] = False
    """True for targets that keep a record up to date (debtors, articles, stock): the idempotency map does not
    stop them; ``find_existing`` decides, skipping with "unchanged" when nothing differs."""

    creates: ClassVar[str | None] = None
    """The kind of record this target creates, as the application's source names it (``order`` for
    ``order:1234``, ``salesorder``): the engine remembers each one with the record it came from, and a source of that
    application skips it (the echo guard). None for targets that only keep master data in step (debtors, articles,
    stock), which are matched by their own key and meant to flow both ways."""

    find_only_in_doubt: ClassVar[bool] = False
    """True when ``find_existing`` only answers "was this record delivered already?" (it prepares nothing for
    ``build``/``send``). The engine then notes each record durably before it may be sent and asks ``find_existing``
    only when the answer is not known otherwise: a record with no idempotency entry and no leftover note was never
    sent by this database. It asks for every record while the target may hold records this database did not
    deliver (see :meth:`holds_records`). False (the default): ``find_existing`` is asked whenever the map is silent."""

    async def find_existing(self, record: Record) -> str | None:
        """The id of this record in the target application if it is already there (asked when the map is silent)."""
        return None

    async def find_existing_many(self, records: list[Record]) -> list[str | None]:
        """:meth:`find_existing` for several records at once (one per item, in order): the engine asks this for the
        records of one page it is in doubt about. A target whose application can list many records in one filtered
        request does that here; the default asks for each record."""
        return list(await asyncio.gather(*(self.find_existing(record) for record in records)))

    async def high_water(self) -> str | None:
        """A mark of the newest record of the kind this target writes (with :attr:`find_only_in_doubt`): the engine
        keeps it with its trust in the idempotency map, and a mark that moved without this database knowing (a
        database restored from a backup, bookings made past it) withdraws that trust. "" for an empty application,
        None (the default) when it cannot tell: then every record is looked up."""
        return None

    async def revisit(self, record: Record, booked: Booked) -> Delivery:
        """The record was delivered before and a fingerprint was kept: compare and act (default: skip it).

        A target that keeps fingerprints decides here whether the record changed in a way that touches what it
        booked, and either skips it (with the reason), updates the booking, or books a correction (returning the
        new delivery with ``replaces=True``), or lets it wait (a :class:`RecordProblem` with status ``waiting``).
        In a dry run it must not write.
        """
        raise SkipRecord(f"already delivered as {booked.target_id}", target_id=booked.target_id)

    async def holds_records(self) -> bool | None:
        """Whether the application may already hold records of the kind this target writes (asked once, the first
        time a flow delivers through this target with :attr:`find_only_in_doubt`). False: it holds none, so this
        database knows every delivery from now on. None (the default): cannot tell — every record is looked up
        until a complete run has asked about each one."""
        return None

    def outcome(self, record: Record, target_id: str | None) -> str | None:
        """The log's sentence for ``record`` delivered as ``target_id`` (None: what a dry run would do), used when
        :meth:`send` gives no message of its own; None when this target has no :attr:`what`."""
        if target_id is None and (self.would or self.upsert):
            return (self.would or "Would save the {what} {key}").format(what=self.what, key=record.key)
        if not self.what:
            return None
        return sentence(self.verb, self.what, target_id, record.source)

    @abstractmethod
    async def build(self, record: Record) -> dict[str, Any]:
        """The request body that would be sent (dry runs stop here). May raise a :class:`RecordProblem`."""

    @abstractmethod
    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """Write ``payload`` to the target application."""
