package domain

// Cursor is a place in the log's commit order: (transaction id, position).
// Positions are assigned at insert but commit out of order; ordering by the
// transaction id first and reading only below the oldest running
// transaction is what keeps tailing readers from skipping late commits
// (invariant 3).
type Cursor struct {
	TxID     uint64 `json:"tx_id"`
	Position int64  `json:"position"`
}

// Less reports whether c comes before d in commit order.
func (c Cursor) Less(d Cursor) bool {
	return c.TxID < d.TxID || (c.TxID == d.TxID && c.Position < d.Position)
}

// TxIDHeader is the message header in which the relay sends an event's
// transaction id beside its envelope, so that a consumer knows the event's
// Cursor without reading the log. The envelope itself stays the one that
// webhooks send.
const TxIDHeader = "Leadsvc-Tx-Id"
