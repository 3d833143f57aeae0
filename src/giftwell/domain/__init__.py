"""Pure rules of the gift-card business: no I/O, standard library only."""
