"""Luna's pure domain rules: local days, habits, chore recurrence and rotation, goals, profiles.

Nothing here does I/O or touches the database, the clock or settings: every function takes the
facts it needs (including "today" or "now") as arguments, so services own time and storage and
these rules stay trivially testable. Bad input raises plain ``ValueError``; services translate it
into Luna's error tree.
"""
