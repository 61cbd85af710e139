output "vpc_id" {
  value = aws_vpc.this.id
}

output "vpc_cidr" {
  value = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "data_subnet_ids" {
  value = aws_subnet.data[*].id
}

output "security_group_ids" {
  value = {
    alb       = aws_security_group.alb.id
    web       = aws_security_group.web.id
    worker    = aws_security_group.worker.id
    endpoints = aws_security_group.endpoints.id
    rds       = aws_security_group.rds.id
    redis     = aws_security_group.redis.id
  }
}

output "nat_public_ips" {
  value = aws_eip.nat[*].public_ip
}
