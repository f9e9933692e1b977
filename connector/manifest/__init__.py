"""The manifest an admin writes: read, `${VAR}`-interpolated and validated at the door, with every
error and its dotted path (`document`), then checked as a whole (`checks`: mappings against the
canonical model, references between sections, card paths). It composes the configuration
models each domain owns (sources, helpdesks, widgets' layout, customer rules, jobs), so it sits
above all of them; only the app wiring, the web and the CLI import it."""

from connector.manifest.document import Manifest, ManifestError, load_manifest

__all__ = ["Manifest", "ManifestError", "load_manifest"]
