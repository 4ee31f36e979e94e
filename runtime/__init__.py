"""kbflow's embedded ASL engine, durable local store and local Step Functions API."""
