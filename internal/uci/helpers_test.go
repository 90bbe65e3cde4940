package uci

// Lookups that only the tests need.

// Lookup returns the named section with the given type and name, or nil.
// Anonymous sections have no name and are never found; use SectionsOfType.
func (f *File) Lookup(typ, name string) *Section {
	if f == nil || name == "" {
		return nil
	}
	for _, s := range f.Sections {
		if s.Name == name && s.Type == typ {
			return s
		}
	}
	return nil
}

// SectionsOfType returns the sections of type typ in file order, the usual
// way to visit anonymous sections such as firewall rules.
func (f *File) SectionsOfType(typ string) []*Section {
	if f == nil {
		return nil
	}
	var out []*Section
	for _, s := range f.Sections {
		if s.Type == typ {
			out = append(out, s)
		}
	}
	return out
}

// Strings returns the texts of all values (nil if o is nil), for callers that
// do not need positions.
func (o *Option) Strings() []string {
	if o == nil {
		return nil
	}
	out := make([]string, len(o.Values))
	for i, v := range o.Values {
		out[i] = v.Text
	}
	return out
}
