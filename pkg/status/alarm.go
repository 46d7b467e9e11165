package status

import "strings"

// The alarm types etcd raises.
const (
	NoSpace = "NOSPACE"
	Corrupt = "CORRUPT"
)

// Alarm is one raised alarm: its type and the member that raised it.
type Alarm struct {
	Type   string `json:"type"`
	Member string `json:"member"` // the member's name, else its ID
	ID     string `json:"id"`
}

func (a Alarm) String() string { return a.Type + " on " + a.Member }

// Alarms are a cluster's raised alarms.
type Alarms []Alarm

func (as Alarms) String() string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// Except drops the alarms of a type ("" drops none).
func (as Alarms) Except(kind string) Alarms {
	var out Alarms
	for _, a := range as {
		if kind == "" || a.Type != kind {
			out = append(out, a)
		}
	}
	return out
}

// Count is the number of alarms of a type.
func (as Alarms) Count(kind string) int { return len(as) - len(as.Except(kind)) }

// Only says whether alarms are raised and all of them are of a type.
func (as Alarms) Only(kind string) bool { return len(as) > 0 && len(as.Except(kind)) == 0 }

// Why is the cluster's health explained: its reasons, then its alarms.
func (cl *Cluster) Why() string {
	why := append([]string(nil), cl.Reasons...)
	if len(cl.Alarms) > 0 {
		why = append(why, "alarms: "+cl.Alarms.String())
	}
	return strings.Join(why, "; ")
}
