package process

import (
	"github.com/outrigger/outrigger/shipper/decode"
)

// Expr is a boolean condition over a line's fields, as Filebeat writes
// them: a leaf (equals, contains, regexp on one field), has_fields, or and,
// or, not of other expressions.
type Expr struct {
	// Leaf, when set, must hold.
	Leaf *Condition
	// HasFields holds when every field is present.
	HasFields []string
	And       []Expr
	Or        []Expr
	Not       *Expr
}

func (p *Processor) eval(e *Expr, members []decode.Member, isJSON bool, line []byte) bool {
	switch {
	case e.Leaf != nil:
		return p.matches(e.Leaf, members, isJSON, line)
	case e.HasFields != nil:
		for _, f := range e.HasFields {
			if decode.Find(members, f) == nil {
				return false
			}
		}
		return true
	case e.And != nil:
		for i := range e.And {
			if !p.eval(&e.And[i], members, isJSON, line) {
				return false
			}
		}
		return true
	case e.Or != nil:
		for i := range e.Or {
			if p.eval(&e.Or[i], members, isJSON, line) {
				return true
			}
		}
		return false
	case e.Not != nil:
		return !p.eval(e.Not, members, isJSON, line)
	}
	return false
}

// Matcher returns a function telling whether a document (a JSON line)
// matches e; outputs use it to route documents (Filebeat's indices).
func Matcher(e Expr) func(doc []byte) bool {
	p := &Processor{}
	return func(doc []byte) bool {
		members, err := decode.ParseObject(doc, nil)
		return p.eval(&e, members, err == nil, doc)
	}
}
