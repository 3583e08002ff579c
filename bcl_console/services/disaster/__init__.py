"""disaster"""
