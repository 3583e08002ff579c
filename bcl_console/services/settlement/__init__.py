"""settlement"""
