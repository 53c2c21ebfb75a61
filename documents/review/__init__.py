"""The review cycle's file work (docs/api.md, "The review cycle"), without Django: reading a
reviewed copy of a generated .docx (``reader``), matching its sections to the twin and telling
people's edits from Folio's text (``match``), carrying edited sections into the next version's .docx
as people left them (``carry``), and the redline whose differences from the previous version are
Word tracked changes (``redline``). The services and the job call these; nothing here touches the
database."""
