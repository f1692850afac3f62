package engine

// RedactURIs is RedactURI over a list: the URIs of a site's hosts, as plan
// and check print them.
func RedactURIs(uris []string) []string {
	if uris == nil {
		return nil
	}
	out := make([]string, len(uris))
	for i, u := range uris {
		out[i] = RedactURI(u)
	}
	return out
}
