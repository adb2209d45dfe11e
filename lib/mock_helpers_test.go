package checksmtp

import "strconv"

func unquoteGo(s string) (string, error) { return strconv.Unquote(s) }
