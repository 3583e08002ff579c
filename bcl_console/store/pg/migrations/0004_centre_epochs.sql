-- Version 4: the two centres' epochs (contract §11). Epoch 1 is the centre this database
-- was made at; every promotion of a standby adds the next, with its time and reason, so a
-- centre that comes back after a failover can tell that another was promoted over it.
CREATE TABLE centre_epochs (
    epoch      integer PRIMARY KEY CHECK (epoch >= 1),
    began_at   timestamptz NOT NULL,
    reason     text NOT NULL
);
INSERT INTO centre_epochs (epoch, began_at, reason) VALUES (1, now(), 'the centre was made');
