-- Who changed something is the name of the admin token used (or system:… for the pipeline's own
-- changes), never what the caller claims. What the caller wants to say about a change (a ticket, a
-- person) is a note beside it, shown as such and never mistaken for the actor.
ALTER TABLE client_config_history
  ADD COLUMN actor_note text CHECK (char_length(actor_note) BETWEEN 1 AND 200);
ALTER TABLE config_audit
  ADD COLUMN actor_note text CHECK (char_length(actor_note) BETWEEN 1 AND 200);
