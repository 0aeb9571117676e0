// Package apidoc builds leadsvc's API documentation: an OpenAPI 3.1
// document, a Postman collection and a readable HTML page, either for
// the whole API or for what one token may do. A token's documents are
// generated from its campaign's live schema, its filter and its
// permissions, so they show exactly the fields, options, statuses and
// operations the token meets, and nothing of other campaigns.
package apidoc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/leadsvc/leadsvc/domain"
)

// OpenAPIVersion is the version of the OpenAPI Specification the documents
// follow.
const OpenAPIVersion = "3.1.1"

// Scope is what one set of documents describes.
type Scope struct {
	// PublicURL is the service's base URL (LEADSVC_PUBLIC_URL): the
	// documents' server and the base of their links.
	PublicURL string
	// Token is the token whose documents these are; nil for the general
	// documentation of the whole API.
	Token *Token
}

// Token is what the documents may know of a token: never its secret, nor
// any part of it.
type Token struct {
	Name        string
	Permissions []domain.Permission
	// Campaign is the token's campaign with its live schema; nil for an
	// account-level token.
	Campaign *domain.Campaign
	// Scope is the token's scope as it is now: its filter, or that the
	// filter is gone. The documents show only what it lets through.
	Scope domain.Scope
}

// Doc is one built set of documents.
type Doc struct {
	scope   Scope
	b       *builder
	ops     []*operation
	openapi *M
}

// Build generates the documents of s.
func Build(s Scope) *Doc {
	s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	b := newBuilder(s)
	d := &Doc{scope: s, b: b, ops: b.operations()}
	d.openapi = b.document(d.ops)
	return d
}

// OpenAPI is the OpenAPI 3.1 document in YAML.
func (d *Doc) OpenAPI() ([]byte, error) { return yamlBytes(d.openapi) }

// OpenAPIJSON is the same document in JSON.
func (d *Doc) OpenAPIJSON() ([]byte, error) { return jsonIndent(d.openapi) }

// ETag is a strong entity tag of the documents' content: it changes
// whenever anything they show changes (a field, option, status, filter or
// permission), so a cache revalidating with it never serves stale docs.
func (d *Doc) ETag() string {
	y, err := d.OpenAPI()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(y)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// Title names the documents: the API, or the token and its campaign.
func (d *Doc) Title() string { return d.b.title() }

func (b *builder) title() string {
	t := b.s.Token
	switch {
	case t == nil:
		return "leadsvc API"
	case t.Campaign != nil:
		return fmt.Sprintf("%s — leadsvc API for token %q", t.Campaign.Name, t.Name)
	}
	return fmt.Sprintf("leadsvc API for token %q", t.Name)
}

// can reports whether the documented token holds p; the general
// documentation holds every permission.
func (b *builder) can(p domain.Permission) bool {
	if b.s.Token == nil {
		return true
	}
	if p == domain.PermAdmin && b.s.Token.Campaign != nil {
		return false // admin is for account-level tokens only
	}
	return slices.Contains(b.s.Token.Permissions, p)
}

// CommittedSpecURL is the server of the general document committed as
// docs/openapi.yaml: the default LEADSVC_PUBLIC_URL.
const CommittedSpecURL = "http://localhost:8080"
