"""The SQL store as one model sees it: a session factory and that model's version row."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from model.checkpoint import LoadedModel
from service import store
from service.errors import NotReady


class StoreBinding:
    """Sessions on the store, and the id of the loaded model's version row.

    Creating one does no I/O; :meth:`register` writes (or finds) the version row.

    Args:
        sessions: a SQLAlchemy session factory bound to the store.
        model: the loaded checkpoint whose vectors the catalogue stores.
    """

    def __init__(self, sessions: sessionmaker[Session], model: LoadedModel) -> None:
        self.sessions = sessions
        self.model = model
        self._version_id: int | None = None

    def register(self) -> int:
        """Find or create the model version row; returns its id."""
        with self.sessions() as session:
            mv = store.get_or_create_model_version(
                session,
                name=self.model.version,
                sha256=self.model.sha256,
                dim=self.model.schema.dim,
                schema=self.model.schema.to_dict(),
            )
            session.commit()
            self._version_id = int(mv.id)
        return self._version_id

    @property
    def model_version_id(self) -> int:
        """The model version row's id (after :meth:`register`)."""
        if self._version_id is None:
            raise NotReady("the catalogue is not open yet")
        return self._version_id

    def session(self) -> Session:
        """A new session (use it as a context manager)."""
        return self.sessions()

    def close(self) -> None:
        """Release the store's connections."""
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
