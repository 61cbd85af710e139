output "vpc_id" {
  value = module.network.vpc_id
}

output "vpc_cidr" {
  value = module.network.vpc_cidr
}

output "public_subnet_ids" {
  value = module.network.public_subnet_ids
}

output "public_subnet_cidrs" {
  description = "Where the ALB's addresses come from (TRUSTED_PROXIES)."
  value       = var.public_subnets
}

output "private_subnet_ids" {
  value = module.network.private_subnet_ids
}

output "data_subnet_ids" {
  value = module.network.data_subnet_ids
}

output "security_group_ids" {
  value = module.network.security_group_ids
}

output "app_port" {
  value = var.app_port
}

output "dr" {
  description = "The DR region's network, or null."
  value = var.dr_enabled ? {
    vpc_id             = module.network_dr[0].vpc_id
    private_subnet_ids = module.network_dr[0].private_subnet_ids
    data_subnet_ids    = module.network_dr[0].data_subnet_ids
    security_group_ids = module.network_dr[0].security_group_ids
  } : null
}
