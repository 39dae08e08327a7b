package wire

// Extensions are methods the registry does not know that a handler's
// config declares (extension_method), each with what its rules name as
// the target.
type Extensions map[string]TargetKind

// ClassifyWith is Classify for a handler that declares extension methods:
// a message of a declared method with a target gets its target read as a
// known method's is: params.name for TargetName, params.uri for TargetURI
// (refused unless in canonical form). Without declarations it is Classify.
func ClassifyWith(body []byte, out *Body, ext Extensions) *Error {
	if err := Classify(body, out); err != nil || len(ext) == 0 {
		return err
	}
	need := false
	for i := range out.Msgs {
		if out.Msgs[i].Kind != KindResponse && ext[out.Msgs[i].Action.Method] != NoTarget {
			need = true
		}
	}
	if !need {
		return nil
	}
	// Classify has checked the body (valid, strict JSON-RPC): walk it
	// again for the params of those messages.
	var err *Error
	n := 0
	visit := func(at int) {
		m := &out.Msgs[n]
		n++
		kind := ext[m.Action.Method]
		if m.Kind == KindResponse || kind == NoTarget {
			return
		}
		var params Span
		walkObject(body, at, func(key []byte, v Span) bool {
			if string(key) == "params" {
				params = v
				return false
			}
			return true
		})
		if params.Len() == 0 {
			return
		}
		var name, uri Span
		walkObject(body, params.Start, func(key []byte, v Span) bool {
			switch string(key) {
			case "name":
				name = v
			case "uri":
				uri = v
			}
			return true
		})
		id := m.ID
		if id != nil && id[0] == 'n' {
			id = nil
		}
		if kind == TargetURI {
			err = m.setTarget(body, uri, id, "params.uri", true)
		} else {
			err = m.setTarget(body, name, id, "params.name", false)
		}
	}
	i := skipWS(body, 0)
	if body[i] == '{' {
		visit(i)
		return err
	}
	walkArray(body, i, func(v Span) bool {
		visit(v.Start)
		return err == nil
	})
	return err
}
