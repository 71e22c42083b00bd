local t = {}
for i = 1, 1000 do table.insert(t, 1, i) end
table.sort(t)
local s = string.rep("a", 5000)
pcall(string.find, s, "(.*)%1b")
while true do s:upper() end
