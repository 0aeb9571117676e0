package apidoc

// exportComponents describe a lead's access export (docs/api.md#lead-export).
func (b *builder) exportComponents() {
	b.schemas.set("ExportDelivery", obj("allOf", []any{sref("Delivery"), object([]string{"webhook_id"},
		"webhook_id", uuidSchema("The subscription the message went to."))}))
	b.schemas.set("LeadExport", object([]string{"lead_id", "campaign_id", "exported_at", "lead", "files", "versions", "integrity", "webhook_deliveries"},
		"lead_id", uuidSchema("The lead."), "campaign_id", uuidSchema("Its campaign."),
		"exported_at", timeSchema("When this document was made."),
		"lead", obj("description", "The lead as its events add up to now (the shape of a Lead), or null.",
			"oneOf", []any{sref("Lead"), obj("type", "null")}),
		"files", list(sref("File"), "Its files now; each url downloads the bytes (a token that may read the lead)."),
		"versions", list(sref("AuditEntry"), "Every event of the lead, in order, with its actor, time, type and data."),
		"integrity", sref("AuditIntegrity"),
		"webhook_deliveries", list(sref("ExportDelivery"), "Every attempt to deliver a message about the lead, oldest first.")))
}
