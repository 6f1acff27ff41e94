"""Customer memory with consent: who the customer is, what they agreed to have remembered, and the
staff's and the law's tools over everything stored about a person.

- `identity`: signed customer tokens and the proof a verification leaves (`Identity`);
- `profile`: the value objects (`CustomerProfile`, `Consent`, conversation records, products seen);
- `store` / `sql`: the `CustomerStore` protocol, its in-memory fake and `SqlCustomerStore`;
- `preferences`: reading preferences and "forget …" out of a message;
- `records` / `database`: show, export and delete everything about a person across the bot's database;
- `retention`: the purge of conversation text older than `conversation_retention_days`;
- `cli`: `supportbot customers show|export|delete|purge`;
- `wiring`: the memory's configuration from the settings, for `bot.bootstrap`.

The dialogue reaches all of it through `bot.dialogue.memory`; nothing here is built at import.
"""
