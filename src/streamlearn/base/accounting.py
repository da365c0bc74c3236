"""What every lane of a run counts, in the order reports show it: events served, labels
learned, events whose label did not come in time (expired), labels that came after their
event's wait ended (late), labels for an id that no event had (unknown), events with no
label, and rows and labels rejected."""

COUNTERS = ("served", "learned", "expired", "late", "unknown", "unlabeled", "rejected")
