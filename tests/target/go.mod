module perfwatch/demo-target

go 1.19
