package probe

import (
	"math"
	"time"

	"github.com/anishathalye/porcupine"
)

type regInput struct {
	write bool
	value int64
}

// registerModel is a single register: writes set it, reads return it.
var registerModel = porcupine.Model{
	Init: func() interface{} { return int64(0) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(int64) == state.(int64), state
	},
	Equal: func(a, b interface{}) bool { return a.(int64) == b.(int64) },
}

// Linearizable checks the register history with porcupine. A write whose
// outcome is unknown may have happened at any time after its call, so it
// gets a return time after everything else.
func Linearizable(ops []Op) (bool, string) {
	var hist []porcupine.Operation
	for _, op := range ops {
		ret := op.Return.UnixNano()
		if op.Unknown {
			ret = math.MaxInt64 - 1
		}
		var out interface{} = op.Value
		client := 1
		if op.Write {
			client = 0
			out = int64(0)
		}
		hist = append(hist, porcupine.Operation{ClientId: client, Input: regInput{op.Write, op.Value}, Output: out, Call: op.Call.UnixNano(), Return: ret})
	}
	switch porcupine.CheckOperationsTimeout(registerModel, hist, time.Minute) {
	case porcupine.Ok:
		return true, ""
	case porcupine.Illegal:
		return false, "porcupine found a linearizability violation in the probe's history"
	default:
		return false, "porcupine could not decide within a minute"
	}
}
